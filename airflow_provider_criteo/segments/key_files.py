"""Sorted, distinct member keys that may live on disk: read back in chunks, never whole.

A key set small enough for the memory budget stays a numpy array; a larger one is a :class:`KeyFile`,
the raw fixed-width keys in a spill file (or in a snapshot file, at an offset). Both are read through
:func:`chunks`, so that every step downstream works on bounded windows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_criteo.segments.spill import SpillFolder

#: Keys read at a time from a key file when the reader does not say (2 MiB of digests).
DEFAULT_CHUNK = 65_536
#: Spill files hold member keys (digests, mobile ad ids): private to the worker's user.
FILE_MODE = 0o600


@dataclass(frozen=True)
class KeyFile:
    """``count`` sorted, distinct keys of ``dtype``, stored raw in ``path`` from byte ``offset``.

    :param chunk: keys read at a time when a reader does not say.
    """

    path: str
    dtype: str
    count: int
    offset: int = 0
    chunk: int = DEFAULT_CHUNK

    def __len__(self) -> int:
        return self.count

    def chunks(self, size: int | None = None) -> Iterator[np.ndarray]:
        """The keys in order, ``size`` (else :attr:`chunk`) at a time; the last chunk may be shorter."""
        size = size or self.chunk
        width = np.dtype(self.dtype).itemsize
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            left = self.count
            while left:
                want = min(size, left)
                data = handle.read(want * width)
                if len(data) != want * width:
                    raise OSError(f"spill file {self.path} ends early: {left} keys expected, file truncated")
                yield np.frombuffer(data, dtype=self.dtype)
                left -= want


#: Keys in memory, or on disk.
Keys = np.ndarray | KeyFile


def chunks(keys: Keys, size: int = DEFAULT_CHUNK) -> Iterator[np.ndarray]:
    """The keys of an array (views, not copies) or a key file, ``size`` at a time."""
    if isinstance(keys, KeyFile):
        yield from keys.chunks(size)
        return
    for start in range(0, len(keys), size):
        yield keys[start : start + size]


def in_memory(keys: Keys) -> np.ndarray:
    """The keys as one array: a key file is read whole (only for sets known to be small)."""
    if isinstance(keys, np.ndarray):
        return keys
    return np.concatenate([np.empty(0, dtype=keys.dtype), *keys.chunks()])


def dtype_of(keys: Keys) -> str:
    """The numpy dtype of the keys, as a string (``S32``)."""
    return keys.dtype if isinstance(keys, KeyFile) else keys.dtype.str.lstrip("|")


@dataclass(frozen=True)
class Spilling:
    """Where key sets too large for memory go, and how many bytes of keys one may hold before it does."""

    folder: SpillFolder
    budget: int

    def share(self, ways: int) -> Spilling:
        """The same folder, with a ``ways``-th of the budget (for one of several key sets held at once)."""
        return Spilling(self.folder, max(self.budget // max(ways, 1), 1))


class KeyWriter:
    """Collects sorted keys, chunk by chunk in order, as an array while they fit the budget, else a file.

    :param spilling: where a large key set goes, past its budget; None keeps everything in memory.
    :param what: what the keys are, in the spill file's name.
    :param at_most: how many keys will be written at the most, when known: past the budget, they go to
        a file from the first, instead of being held until the budget is reached.
    """

    def __init__(
        self, dtype: str, spilling: Spilling | None = None, what: str = "keys", *, at_most: int | None = None
    ) -> None:
        self.dtype = dtype
        self._spilling = spilling
        self._what = what
        self._parts: list[np.ndarray] = []
        self._held = 0
        self._count = 0
        self._file: int | None = None
        self._path = ""
        if (
            spilling is not None
            and at_most is not None
            and at_most * np.dtype(dtype).itemsize > spilling.budget
        ):
            self._spill()

    def write(self, keys: np.ndarray) -> None:
        """Append keys, all greater than those written before."""
        if not len(keys):
            return
        self._count += len(keys)
        if self._file is not None:
            _write_all(self._file, keys)
            return
        self._parts.append(keys)
        self._held += keys.nbytes
        if self._spilling is not None and self._held > self._spilling.budget:
            self._spill()

    def _spill(self) -> None:
        """Move the keys held so far to a new spill file, where the next ones go too."""
        assert self._spilling is not None
        self._path = self._spilling.folder.new_path(self._what)
        file = self._file = open_private(self._path)
        for part in self._parts:
            _write_all(file, part)
        self._parts, self._held = [], 0

    def done(self) -> Keys:
        """The keys written: one array (a single chunk as it is, not copied), or a key file."""
        if self._file is not None:
            os.close(self._file)
            self._file = None
            return KeyFile(self._path, self.dtype, self._count)
        if len(self._parts) == 1:
            return self._parts[0]
        if not self._parts:
            return np.empty(0, dtype=self.dtype)
        return np.concatenate(self._parts)


def _write_all(descriptor: int, keys: np.ndarray) -> None:
    view = np.ascontiguousarray(keys).data.cast("B")
    while view:
        written = os.write(descriptor, view)
        view = view[written:]


def open_private(path: str) -> int:
    """Create a spill file, private to this user, for writing; return its descriptor."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
