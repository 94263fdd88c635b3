"""The audience snapshot store behind ``sync_mode="mirror"``.

Criteo cannot list an audience's members, so a mirror export diffs the segment against the member
set its last successful run committed. Per (advertiser, audience, identifier type, hashing) the
store keeps:

- ``v00000001.snap`` ...: immutable, versioned snapshots of sorted 32-byte digests. A commit
  creates version N+1 exclusively, so two runs that both read version N cannot both commit.
- ``intent-*.snap``: what an in-flight run may have added or removed, written before its first
  request. A run that crashed or lost the race leaves its intent behind, and the next run folds it
  into its diff, so nothing it sent is ever forgotten.
- ``lock``: a lease held by the running export (refreshed by a heartbeat), so a manual trigger
  during a scheduled run fails at once instead of interleaving with it.

Files are compact binary (a JSON header, then raw digests) with a SHA-256 checksum: a damaged
snapshot is reported, never read as an empty audience. The location is any ``ObjectStoragePath``
(a local folder by default; ``s3://`` or ``gs://`` when workers are distributed). On a local or
network filesystem, exclusive creation and renames are atomic; object stores write whole objects
atomically, but their exclusive creation is check-then-write.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from airflow.sdk import ObjectStoragePath

from airflow_provider_criteo.exceptions import (
    AudienceLockedError,
    SnapshotConflictError,
    SnapshotCorruptError,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

DIGEST_SIZE = 32
DIGEST_DTYPE = f"S{DIGEST_SIZE}"
MAGIC = b"CRITEOSNAP\n"
FORMAT_VERSION = 1
#: A lock whose heartbeat is older than this is abandoned (its worker died) and may be taken over.
DEFAULT_LEASE_SECONDS = 300.0
KEEP_VERSIONS = 2


@dataclass(frozen=True)
class SnapshotKey:
    """Which member set: one audience, one identifier type, one hashing."""

    advertiser_id: str
    audience_id: str
    identifier_type: str = "email"
    hashing: str = "sha256"

    @property
    def parts(self) -> tuple[str, ...]:
        """Folder names under the store's root."""
        return (
            f"advertiser={self.advertiser_id}",
            f"audience={self.audience_id}",
            f"{self.identifier_type}-{self.hashing}",
        )


@dataclass(frozen=True)
class Snapshot:
    """A committed member set: sorted, distinct keys (digests, or the values of a type sent as it is).

    ``encoding`` is what the keys are, as the committing run recorded it (None in files written before
    encodings were recorded): a run never diffs against keys of another encoding as if they were its own.
    """

    version: int
    digests: np.ndarray
    encoding: str | None = None
    #: When it was committed (Unix seconds), as the file records it.
    committed_at: float | None = None


@dataclass(frozen=True)
class Intent:
    """What one run may have changed at Criteo before committing."""

    name: str
    adds: np.ndarray
    removes: np.ndarray


def empty_digests(dtype: np.dtype[Any] | str = DIGEST_DTYPE) -> np.ndarray:
    """An empty key array: of digests by default."""
    return np.empty(0, dtype=dtype)


def encode(sections: dict[str, np.ndarray], **meta: Any) -> bytes:
    """Serialise named key arrays of one width with a header and a checksum (one copy of the keys, no more).

    Keys are 32-byte digests, or the values of an identifier type sent as it is (its own width).
    """
    widths = {a.dtype.itemsize for a in sections.values()}
    if len(widths) != 1:
        raise ValueError(f"the sections of one file hold keys of one width, not {sorted(widths)}")
    width = widths.pop()
    arrays = [np.ascontiguousarray(a) for a in sections.values()]
    checksum = hashlib.sha256()
    for array in arrays:
        checksum.update(array.data)
    header = {
        "format": FORMAT_VERSION,
        "sections": {name: len(array) for name, array in sections.items()},
        "sha256": checksum.hexdigest(),
        "width": width,
        **meta,
    }
    head = json.dumps(header, sort_keys=True).encode()
    return b"".join([MAGIC, len(head).to_bytes(4, "big"), head, *(array.data for array in arrays)])


def decode(data: bytes, where: str) -> dict[str, np.ndarray]:
    """Read the key arrays :func:`encode` wrote, refusing anything damaged."""
    return decode_with_header(data, where)[0]


def decode_with_header(data: bytes, where: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read what :func:`encode` wrote, the key arrays and the header, refusing anything damaged."""
    try:
        if not data.startswith(MAGIC):
            raise ValueError("not a snapshot file")
        start = len(MAGIC) + 4
        head_size = int.from_bytes(data[len(MAGIC) : start], "big")
        header = json.loads(data[start : start + head_size])
        payload = memoryview(data)[start + head_size :]  # the digests are read in place, not copied
        if header["format"] != FORMAT_VERSION:
            raise ValueError(f"unknown format {header['format']}")
        if hashlib.sha256(payload).hexdigest() != header["sha256"]:
            raise ValueError("checksum mismatch")
        sections, offset = {}, 0
        width = int(header.get("width", DIGEST_SIZE))  # files written before other widths hold digests
        for name, count in header["sections"].items():
            size = int(count) * width
            sections[name] = np.frombuffer(payload[offset : offset + size], dtype=f"S{width}")
            offset += size
        if offset != len(payload):
            raise ValueError("payload size mismatch")
    except (ValueError, KeyError, TypeError) as err:
        raise SnapshotCorruptError(
            f"Snapshot file {where} is damaged ({err}). It is not taken for an empty audience: inspect or "
            "delete it; without a snapshot the next mirror run follows on_missing_state."
        ) from None
    return sections, header


class SnapshotStore:
    """Snapshots, intents and locks of mirror exports under one root location.

    :param location: a local folder or any ``ObjectStoragePath`` URL (``file://``, ``s3://``, ...).
    """

    def __init__(self, location: str | os.PathLike[str] | ObjectStoragePath) -> None:
        self.root = location if isinstance(location, ObjectStoragePath) else ObjectStoragePath(str(location))
        self.local = self.root.protocol in ("", "file")

    @classmethod
    def from_config(cls, location: str | None = None) -> SnapshotStore:
        """The store at ``location``, else ``[criteo] snapshot_location``, else under ``$AIRFLOW_HOME``."""
        from airflow.configuration import AIRFLOW_HOME, conf

        location = location or conf.get("criteo", "snapshot_location", fallback=None)
        if not location:
            location = os.path.join(AIRFLOW_HOME, "criteo", "snapshots")
        return cls(os.path.expanduser(location) if "://" not in location else location)

    def _folder(self, key: SnapshotKey) -> ObjectStoragePath:
        folder = self.root.joinpath(*key.parts)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    # ------------------------------------------------------------------------------- snapshots

    def _versions(self, folder: ObjectStoragePath) -> list[int]:
        versions = []
        for path in folder.iterdir():
            name = path.name
            if name.startswith("v") and name.endswith(".snap") and name[1:-5].isdigit():
                versions.append(int(name[1:-5]))
        return sorted(versions)

    def latest(self, key: SnapshotKey) -> Snapshot | None:
        """The last committed snapshot, or None when this audience was never committed."""
        folder = self._folder(key)
        versions = self._versions(folder)
        if not versions:
            return None
        path = folder / f"v{versions[-1]:08d}.snap"
        sections, header = decode_with_header(path.read_bytes(), str(path))
        encoding, committed_at = header.get("encoding"), header.get("committed_at")
        return Snapshot(
            versions[-1],
            sections["members"],
            encoding if isinstance(encoding, str) else None,
            float(committed_at) if isinstance(committed_at, int | float) else None,
        )

    def has_history(self, key: SnapshotKey) -> bool:
        """Whether a member list was ever committed or has an uncommitted run's intent (no folder made)."""
        folder = self.root.joinpath(*key.parts)
        if not folder.exists():
            return False
        return any(
            path.name.endswith(".snap") and path.name.startswith(("v", "intent-"))
            for path in folder.iterdir()
        )

    def commit(
        self,
        key: SnapshotKey,
        digests: np.ndarray,
        *,
        expected_version: int | None,
        encoding: str | None = None,
    ) -> int:
        """Commit ``digests`` as the version after ``expected_version``, unless another run did first.

        ``encoding`` says what the keys are (recorded in the file; None records nothing).
        """
        folder = self._folder(key)
        version = (expected_version or 0) + 1
        meta: dict[str, Any] = {"committed_at": time.time()}
        if encoding is not None:
            meta["encoding"] = encoding
        data = encode({"members": digests}, **meta)
        if not self._create_exclusive(folder / f"v{version:08d}.snap", data):
            raise SnapshotConflictError(
                f"Another run committed version {version} of audience {key.audience_id}'s snapshot first. "
                "Audience changes of both runs are recorded; the next run reconciles them."
            )
        for old in self._versions(folder)[:-KEEP_VERSIONS]:
            (folder / f"v{old:08d}.snap").unlink(missing_ok=True)
        return version

    # ------------------------------------------------------------------------------- intents

    def intents(self, key: SnapshotKey) -> list[Intent]:
        """Changes of runs that did not commit (crashed, or lost a commit race)."""
        found = []
        for path in sorted(self._folder(key).iterdir(), key=lambda p: p.name):
            if path.name.startswith("intent-") and path.name.endswith(".snap"):
                sections = decode(path.read_bytes(), str(path))
                found.append(Intent(path.name, sections["adds"], sections["removes"]))
        return found

    def record_intent(self, key: SnapshotKey, adds: np.ndarray, removes: np.ndarray) -> str:
        """Durably record what a run is about to change, before its first request; return its name."""
        name = f"intent-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.snap"
        self._write_atomic(self._folder(key) / name, encode({"adds": adds, "removes": removes}))
        return name

    def clear_intents(self, key: SnapshotKey, names: Iterator[str] | list[str]) -> None:
        """Forget intents that a committed snapshot now accounts for."""
        folder = self._folder(key)
        for name in names:
            (folder / name).unlink(missing_ok=True)

    # ------------------------------------------------------------------------------- lock

    @contextlib.contextmanager
    def lock(self, key: SnapshotKey, owner: str, lease: float = DEFAULT_LEASE_SECONDS) -> Iterator[None]:
        """Hold the audience's lease while a run diffs, sends and commits.

        The same ``owner`` (a retry of the same task instance) takes its own lock back at once; a lock
        whose heartbeat is older than ``lease`` seconds was abandoned and is taken over.
        """
        path = self._folder(key) / "lock"
        self._acquire(path, owner, lease)
        stop = threading.Event()
        heartbeat = threading.Thread(
            target=self._heartbeat, args=(path, owner, lease, stop), name="criteo-lock-heartbeat", daemon=True
        )
        heartbeat.start()
        try:
            yield
        finally:
            stop.set()
            heartbeat.join()
            if _lock_owner(path) == owner:
                path.unlink(missing_ok=True)

    def _acquire(self, path: ObjectStoragePath, owner: str, lease: float) -> None:
        record = _lock_record(owner)
        if self._create_exclusive(path, record):
            return
        held = _read_lock(path)
        age = time.time() - float(held.get("heartbeat", 0))
        if held.get("owner") != owner and age < lease:
            raise AudienceLockedError(
                f"Another export of this audience is running ({held.get('owner')}, heartbeat {age:.0f}s "
                f"ago). This run sent nothing; retry after it finishes (an abandoned lock expires after "
                f"{lease:.0f}s)."
            )
        self._write_atomic(path, record)

    def _heartbeat(self, path: ObjectStoragePath, owner: str, lease: float, stop: threading.Event) -> None:
        while not stop.wait(lease / 5):
            self._write_atomic(path, _lock_record(owner))

    # ------------------------------------------------------------------------------- audience

    def forget(self, key: SnapshotKey, digests: np.ndarray, *, owner: str) -> None:
        """Remove erased people's digests from the snapshot and intents of one audience, under its lock."""
        with self.lock(key, owner):
            snapshot = self.latest(key)
            if snapshot is not None:
                kept = np.setdiff1d(snapshot.digests, digests, assume_unique=True)
                self.commit(key, kept, expected_version=snapshot.version, encoding=snapshot.encoding)
            for intent in self.intents(key):
                adds = np.setdiff1d(intent.adds, digests, assume_unique=True)
                removes = np.setdiff1d(intent.removes, digests, assume_unique=True)
                self._write_atomic(
                    self._folder(key) / intent.name, encode({"adds": adds, "removes": removes})
                )

    def audiences(self, advertiser_id: str) -> list[str]:
        """The ids of the advertiser's audiences that have snapshots here: audiences exports managed."""
        folder = self.root.joinpath(f"advertiser={advertiser_id}")
        if not folder.exists():
            return []
        return sorted(
            p.name.removeprefix("audience=") for p in folder.iterdir() if p.name.startswith("audience=")
        )

    def delete_audience(self, advertiser_id: str, audience_id: str) -> int:
        """Delete every snapshot, intent and lock of an audience; return the number of files removed."""
        folder = self.root.joinpath(f"advertiser={advertiser_id}", f"audience={audience_id}")
        if not folder.exists():
            return 0
        files = [p for p in folder.rglob("*") if p.is_file()]
        for path in files:
            path.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir(recursive=True)
        return len(files)

    # ------------------------------------------------------------------------------- atomic I/O

    def _create_exclusive(self, path: ObjectStoragePath, data: bytes) -> bool:
        """Create ``path`` with ``data`` unless it exists; atomic on local and network filesystems."""
        if not self.local:
            if path.exists():
                return False
            path.write_bytes(data)
            return True
        temp = _write_temp(path.path, data)
        try:
            os.link(temp, path.path)
        except FileExistsError:
            return False
        finally:
            os.unlink(temp)
        return True

    def _write_atomic(self, path: ObjectStoragePath, data: bytes) -> None:
        """Replace ``path`` with ``data`` so readers see the old or the new content, never a mix."""
        if self.local:
            os.replace(_write_temp(path.path, data), path.path)
        else:
            path.write_bytes(data)


def _write_temp(final: str, data: bytes) -> str:
    """Write ``data`` durably to a temporary file beside ``final``; return its path."""
    temp = f"{final}.{uuid.uuid4().hex}.tmp"
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return temp


def _lock_record(owner: str) -> bytes:
    return json.dumps({"owner": owner, "heartbeat": time.time()}).encode()


def _read_lock(path: ObjectStoragePath) -> dict[str, Any]:
    try:
        record = json.loads(path.read_bytes())
    except (FileNotFoundError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def _lock_owner(path: ObjectStoragePath) -> str | None:
    return _read_lock(path).get("owner")
