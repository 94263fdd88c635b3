"""A private folder on local disk for the spill files of one export, never left behind for long.

A segment too large for the memory budget is sorted in runs written here. The folder is 0700 and its
files 0600 (they hold member keys: digests, mobile ad ids); it is removed when the export ends, well or
not. A process killed before that leaves it behind: while it lives it holds an exclusive ``flock`` on
the folder's ``owner`` file, so the next export anywhere on the machine removes the folders whose lock
it can take (the kernel releases a killed process's locks; a paused one keeps them).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
import time
from typing import TYPE_CHECKING

from airflow_provider_criteo.segments.key_files import Spilling

if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType

PREFIX = "criteo-spill-"
OWNER = "owner"
FILE_MODE = 0o600
#: A folder without an owner file (killed while it was made) is removed once older than this.
UNOWNED_MAX_AGE = 600.0
#: The memory an export's member sets may hold before they spill sorted runs to disk (MiB).
DEFAULT_MEMORY_BUDGET_MB = 64
#: Key sets derived from the members (a snapshot read, the adds and the removes of a plan, an intent) stay
#: in memory up to this fraction of the budget each (1/8), then spill.
DERIVED_SHARE = 8


def memory_budget() -> int:
    """The memory budget in bytes: ``[criteo] memory_budget_mb`` (MiB, a fraction allowed), else 64."""
    from airflow.configuration import conf

    megabytes = conf.getfloat("criteo", "memory_budget_mb", fallback=DEFAULT_MEMORY_BUDGET_MB)
    if not megabytes > 0:
        raise ValueError(f"[criteo] memory_budget_mb must be a positive number of MiB, not {megabytes}.")
    return max(int(megabytes * 2**20), 1)


def spill_base() -> str:
    """Where spill folders are made: ``[criteo] spill_location``, else the system's temporary folder."""
    from airflow.configuration import conf

    return os.path.expanduser(conf.get("criteo", "spill_location", fallback="") or tempfile.gettempdir())


class SpillFolder:
    """One export's private folder of spill files, made when the first is, and locked while it lives.

    Entering it removes the folders killed exports left under ``base``; leaving it removes its own.

    :param base: the folder to make it in (created if missing); it must be on local disk.
    """

    def __init__(self, base: str) -> None:
        self.base = base
        #: The folder, once a spill file was asked for (None until then: a small export makes none).
        self.path: str | None = None
        self._lock = -1
        self._count = 0
        #: How many folders of killed exports entering this one removed.
        self.swept = 0

    def new_path(self, what: str) -> str:
        """The path of a new spill file (not yet created): create it with :func:`open_private`."""
        if self.path is None:
            self.path = self._make()
        self._count += 1
        return os.path.join(self.path, f"{self._count:06d}-{what}.keys")

    def _make(self) -> str:
        os.makedirs(self.base, exist_ok=True)
        path = tempfile.mkdtemp(prefix=PREFIX, dir=self.base)  # 0700
        # Locked before it is named: a sweep never sees an owner file it can lock while this one lives
        # (a young folder without one is left alone).
        unnamed = os.path.join(path, f"{OWNER}.new")
        self._lock = os.open(unnamed, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.rename(unnamed, os.path.join(path, OWNER))
        return path

    def close(self) -> None:
        """Remove the folder and every file in it, then release the lock."""
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None
        if self._lock >= 0:
            os.close(self._lock)
            self._lock = -1

    def __enter__(self) -> SpillFolder:
        if os.path.isdir(self.base):
            self.swept = sweep(self.base)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


@contextlib.contextmanager
def spilling() -> Iterator[Spilling]:
    """One export's spilling, as ``[criteo] spill_location`` and ``memory_budget_mb`` say: its folder is
    removed when the export ends."""
    with SpillFolder(spill_base()) as folder:
        yield Spilling(folder, memory_budget())


def sweep(base: str) -> int:
    """Remove the spill folders under ``base`` that no live process owns; return how many."""
    removed = 0
    with os.scandir(base) as entries:
        candidates = [
            entry.path
            for entry in entries
            if entry.name.startswith(PREFIX) and entry.is_dir(follow_symlinks=False)
        ]
    for path in candidates:
        if _abandoned(path):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _abandoned(path: str) -> bool:
    """Whether no process holds the folder's lock (or it has no owner file, and is old)."""
    try:
        descriptor = os.open(os.path.join(path, OWNER), os.O_RDONLY)
    except FileNotFoundError:
        with contextlib.suppress(FileNotFoundError):
            return time.time() - os.stat(path).st_mtime > UNOWNED_MAX_AGE
        return False
    except OSError:
        return False  # another user's folder: not ours to judge
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(descriptor)
    return True
