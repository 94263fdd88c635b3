"""Sorted key streams walked side by side in aligned windows, so that set operations run in bounded memory.

Window *i* of every stream covers the same range of keys, and no key of one window is in another: a
set operation (union, difference, membership) done window by window with the in-memory kernels of
:mod:`~airflow_provider_criteo.segments.sorted_keys` gives exactly what it gives on whole arrays.
Arrays in memory are streams of one chunk: they go through the same code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from airflow_provider_criteo.segments.key_files import DEFAULT_CHUNK, KeyWriter, chunks, dtype_of
from airflow_provider_criteo.segments.sorted_keys import distinct_sorted, setdiff_sorted

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

    from airflow_provider_criteo.segments.key_files import Keys, Spilling


class _Cursor:
    """One stream's chunks, and what of the current chunk is not yet emitted."""

    def __init__(self, stream: Iterator[np.ndarray], dtype: str) -> None:
        self._stream = stream
        self.buffer: np.ndarray = np.empty(0, dtype=dtype)
        self.exhausted = False

    def fill(self) -> None:
        """Read the next non-empty chunk when the buffer is empty."""
        while not len(self.buffer) and not self.exhausted:
            chunk = next(self._stream, None)
            if chunk is None:
                self.exhausted = True
            else:
                self.buffer = chunk

    def take_through(self, boundary: np.bytes_ | None) -> np.ndarray:
        """Emit the buffered keys up to ``boundary`` (all of them for None)."""
        if boundary is None:
            taken, self.buffer = self.buffer, self.buffer[:0]
            return taken
        end = int(np.searchsorted(self.buffer, boundary, side="right"))
        taken, self.buffer = self.buffer[:end], self.buffer[end:]
        return taken


def windows(streams: Sequence[Iterable[np.ndarray]], dtype: str) -> Iterator[list[np.ndarray]]:
    """Aligned windows of sorted key streams: one array per stream, covering the same range of keys.

    Each window ends at the smallest last key among the streams' buffered chunks, so every stream holds
    at most one chunk (and what of it is left) at a time.
    """
    cursors = [_Cursor(iter(stream), dtype) for stream in streams]
    while True:
        for cursor in cursors:
            cursor.fill()
        open_ends = [cursor.buffer[-1] for cursor in cursors if not cursor.exhausted]
        if not open_ends and not any(len(cursor.buffer) for cursor in cursors):
            return
        boundary = min(open_ends) if open_ends else None
        yield [cursor.take_through(boundary) for cursor in cursors]


def merge_runs(runs: Sequence[Keys], writer: KeyWriter, chunk: int = DEFAULT_CHUNK) -> Keys:
    """The sorted, distinct union of sorted, distinct runs, written to ``writer``."""
    if not runs:
        return writer.done()
    dtype = dtype_of(runs[0])
    for window in windows([chunks(run, chunk) for run in runs], dtype):
        parts = [part for part in window if len(part)]
        if len(parts) == 1:
            writer.write(parts[0])
        elif parts:
            writer.write(distinct_sorted(np.sort(np.concatenate(parts))))
    return writer.done()


def merge_chunk(runs: int, width: int, budget: int) -> int:
    """Keys to read from each of ``runs`` runs at a time, so that a window and its sort fit ``budget``."""
    return max(budget // max(1, 3 * runs * width), 1024)


def union(sets: Sequence[Keys], spilling: Spilling | None, what: str = "union") -> Keys:
    """The sorted, distinct union of sorted, distinct key sets: in memory, or past the budget on disk."""
    if len(sets) == 1 or all(not len(keys) for keys in sets[1:]):
        return sets[0]
    if all(isinstance(keys, np.ndarray) for keys in sets):  # no larger than its parts, in memory
        spilling = None
    return merge_runs(sets, KeyWriter(dtype_of(sets[0]), spilling, what))


def difference(keys: Keys, removed: Keys, spilling: Spilling | None, what: str = "difference") -> Keys:
    """``keys`` less ``removed`` (both sorted, distinct); ``keys`` itself when nothing is removed."""
    if not len(removed):
        return keys
    dtype = dtype_of(keys)
    writer = KeyWriter(dtype, None if isinstance(keys, np.ndarray) else spilling, what)
    for kept, gone in windows([chunks(keys), chunks(removed)], dtype):
        writer.write(setdiff_sorted(kept, gone))
    return writer.done()
