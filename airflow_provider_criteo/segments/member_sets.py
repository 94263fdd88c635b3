"""The de-duplicated member set of one export and member list, kept compact.

Members are fixed-width byte keys in one buffer (no Python object per member), sorted and
de-duplicated in place by numpy: raw 32-byte SHA-256 digests for hashed types (32 MB per million
members), sent as lower-case hex encoded straight from the bytes (:func:`hex_json_array`); or the
values themselves for types sent as they are (mobile ad ids as 16 UUID bytes, MD5 digests as their
16 bytes). Plain e-mails, an opt-in that keeps no snapshot, are a set of strings.

With :class:`Spilling`, a set that outgrows its share of the memory budget sorts what it holds into a
run on disk and starts again; freezing merges the runs into one file of sorted keys
(:class:`~airflow_provider_criteo.segments.key_files.KeyFile`), read back in chunks.
"""

from __future__ import annotations

import hashlib
import itertools
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from airflow_provider_criteo.client.wire import hex_identifiers
from airflow_provider_criteo.identifiers.values import DIGEST_DTYPE
from airflow_provider_criteo.segments.key_files import KeyFile, KeyWriter, Spilling, chunks
from airflow_provider_criteo.segments.key_streams import merge_chunk, merge_runs
from airflow_provider_criteo.segments.sorted_keys import distinct_sorted, first_of_each

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from airflow_provider_criteo.segments.key_files import Keys

#: Keys written at a time when a sorted run goes to disk (2 MiB of digests).
_WRITE_CHUNK = 65_536
#: Runs merged at once (a file open for each): more are merged in rounds.
MERGE_FAN_IN = 64


# The digest method of hashlib's SHA-256 objects, to call through map() without a lambda.
_digest = type(hashlib.sha256()).digest


def _digests(normalized: Iterable[str]) -> bytes:
    """The raw SHA-256 digests of the UTF-8 identifiers, joined (the loop runs in C)."""
    return b"".join(map(_digest, map(hashlib.sha256, map(str.encode, normalized))))


class MemberSet(Protocol):
    """Collects normalised identifiers and yields each distinct one once, as it is sent to Criteo."""

    @property
    def keys(self) -> Keys | None:
        """The sorted, distinct member keys once frozen (what snapshots keep); None when none are kept."""

    def add_many(self, normalized: Iterable[str]) -> None:
        """Add normalised identifiers."""

    def __len__(self) -> int:
        """Number of distinct identifiers (valid once :meth:`freeze` was called)."""

    def freeze(self) -> None:
        """End collection: de-duplicate."""

    def identifiers(self) -> Iterator[str]:
        """Yield each distinct identifier in the form sent to Criteo."""

    @property
    def legacy_keys(self) -> Keys | None:
        """The members' keys in the form an earlier version kept them, when it differs; else None."""

    @property
    def spilled_runs(self) -> int:
        """How many sorted runs went to disk before :meth:`freeze` merged them (0: held in memory)."""

    def send_runs_to(self, on_run: Callable[[KeyFile], None]) -> None:
        """Give each sorted run to ``on_run`` as it goes to disk (none, for a set that never spills)."""


class KeyedMembers:
    """Distinct fixed-width member keys, collected in one buffer, sorted and de-duplicated once.

    :param spilling: where runs go once the buffer passes its budget; None holds everything in memory.
    """

    def __init__(self, dtype: str, spilling: Spilling | None = None) -> None:
        self._dtype = dtype
        self._spilling = spilling
        self._buffer = bytearray()
        self._runs: list[KeyFile] = []
        self._on_run: Callable[[KeyFile], None] | None = None
        self.keys: Keys = np.empty(0, dtype=dtype)
        self.spilled_runs = 0

    def send_runs_to(self, on_run: Callable[[KeyFile], None]) -> None:
        """Give each sorted run to ``on_run`` as it goes to disk (and the last one, at :meth:`freeze`), so
        that it can be sent while the rest is read. Its file then lives as long as the spill folder."""
        self._on_run = on_run

    def add_digests(self, digests: Iterable[bytes]) -> None:
        """Keep identifiers given already hashed, as their raw digests (of this set's width): never hashed."""
        self._take(b"".join(digests))

    def _take(self, keys: bytes) -> None:
        self._buffer += keys
        if self._spilling is not None and len(self._buffer) >= self._spilling.budget:
            self._add_run(self._spill_run(self._spilling))

    def _add_run(self, run: KeyFile) -> None:
        self._runs.append(run)
        if self._on_run is not None:
            self._on_run(run)

    def _spill_run(self, spilling: Spilling) -> KeyFile:
        """Sort the buffer in place and write its distinct keys to a run file; empty the buffer."""
        keys = np.frombuffer(self._buffer, dtype=self._dtype)
        keys.sort()
        first = first_of_each(keys)
        writer = KeyWriter(self._dtype, Spilling(spilling.folder, 0), "run")
        for start in range(0, len(keys), _WRITE_CHUNK):
            end = start + _WRITE_CHUNK
            writer.write(keys[start:end][first[start:end]])
        del keys
        self._buffer = bytearray()
        run = writer.done()
        assert isinstance(run, KeyFile)
        return run

    def freeze(self) -> None:
        """Sort and de-duplicate the keys, releasing the collection buffer.

        The sort runs in place, in the buffer: there is never a second copy of the members. Spilled runs
        are merged into one key file (an array, when the distinct keys fit the budget after all).
        """
        if self._spilling is None or not self._runs:
            keys = np.frombuffer(self._buffer, dtype=self._dtype)
            keys.sort()
            self.keys = distinct_sorted(keys)
            self._buffer = bytearray()
            return
        spilling = self._spilling
        if self._buffer:
            self._add_run(self._spill_run(spilling))
        self.spilled_runs = len(self._runs)
        runs, own = self._runs, self._on_run is None  # runs being sent stay until the export ends
        while len(runs) > MERGE_FAN_IN:  # a file open per run at once: merged in rounds
            groups = [runs[start : start + MERGE_FAN_IN] for start in range(0, len(runs), MERGE_FAN_IN)]
            runs, own = [self._merged_run(group, spilling, own) for group in groups], True
        self.keys = self._merge(runs, spilling, "members", own)
        self._runs = []

    def _merged_run(self, runs: list[KeyFile], spilling: Spilling, remove: bool) -> KeyFile:
        """Runs merged into one run on disk (a round of the merge)."""
        merged = self._merge(runs, Spilling(spilling.folder, 0), "run", remove)
        assert isinstance(merged, KeyFile)  # runs are never empty, and a budget of 0 writes to disk
        return merged

    def _merge(self, runs: list[KeyFile], spilling: Spilling, what: str, remove: bool) -> Keys:
        """The sorted, distinct union of runs, in memory within ``spilling``'s budget, else on disk."""
        assert self._spilling is not None
        chunk = merge_chunk(len(runs), np.dtype(self._dtype).itemsize, self._spilling.budget)
        writer = KeyWriter(self._dtype, spilling, what, at_most=sum(len(run) for run in runs))
        merged = merge_runs(runs, writer, chunk)
        if remove:
            for run in runs:
                os.unlink(run.path)
        return merged

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def legacy_keys(self) -> Keys | None:
        """No earlier form of these keys is kept."""
        return None


class HashedMembers(KeyedMembers):
    """Distinct SHA-256 digests of normalised identifiers, sent as lower-case hex.

    :param keeps_legacy: also keep, as :attr:`legacy_keys`, the digests of the form earlier versions
        sent for the members (:meth:`add_legacy`), so that a run can tell who of a snapshot in that form
        is still a member.
    """

    def __init__(self, *, keeps_legacy: bool = False, spilling: Spilling | None = None) -> None:
        if keeps_legacy and spilling is not None:
            spilling = spilling.share(2)
        super().__init__(DIGEST_DTYPE, spilling)
        self._legacy = HashedMembers(spilling=spilling) if keeps_legacy else None

    @property
    def legacy_keys(self) -> Keys | None:
        """The sorted, distinct legacy-form digests once frozen; None when no legacy form is kept."""
        return None if self._legacy is None else self._legacy.keys

    def add_many(self, normalized: Iterable[str]) -> None:
        """Hash and keep normalised identifiers (the loop runs in C)."""
        self._take(_digests(normalized))

    def add_legacy(self, earlier: Iterable[str]) -> None:
        """Hash and keep the form earlier versions sent of members (ignored when none is kept)."""
        if self._legacy is not None:
            self._legacy.add_many(earlier)

    def freeze(self) -> None:
        """Sort and de-duplicate the digests (and the legacy ones)."""
        super().freeze()
        if self._legacy is not None:
            self._legacy.freeze()

    def identifiers(self) -> Iterator[str]:
        """Yield each digest as 64 lower-case hex characters, in sorted order."""
        return itertools.chain.from_iterable(map(hex_identifiers, chunks(self.keys)))


@dataclass(frozen=True)
class KeyCodec:
    """How identifiers sent as they are are kept as fixed-width keys, and read back.

    :param width: bytes per key (a multiple of 8, for :func:`distinct_sorted`).
    :param key: the key of a normalised identifier, exactly ``width`` bytes.
    :param values: the identifiers of an array of keys, in order.
    """

    width: int
    key: Callable[[str], bytes]
    values: Callable[[np.ndarray], list[str]]

    @classmethod
    def text(cls, width: int) -> KeyCodec:
        """Keys that are the UTF-8 bytes of the identifier, padded with NULs (never in an identifier)."""
        return cls(width, lambda value: value.encode().ljust(width, b"\0"), _text_values)

    @property
    def dtype(self) -> str:
        """The numpy dtype of the keys."""
        return f"S{self.width}"


def _text_values(keys: np.ndarray) -> list[str]:
    return [key.decode() for key in keys.tolist()]  # numpy drops the trailing NUL padding


class ValueMembers(KeyedMembers):
    """Distinct identifiers sent as they are, kept as fixed-width keys from which they are read back."""

    def __init__(self, codec: KeyCodec, spilling: Spilling | None = None) -> None:
        super().__init__(codec.dtype, spilling)
        self.codec = codec

    def add_many(self, normalized: Iterable[str]) -> None:
        """Keep normalised identifiers."""
        self._take(b"".join(map(self.codec.key, normalized)))

    def identifiers(self) -> Iterator[str]:
        """Yield each identifier, in key order."""
        for part in chunks(self.keys):
            yield from self.codec.values(part)


class PlainMembers:
    """Distinct normalised identifiers sent as they are (``hash_emails=False``)."""

    def __init__(self) -> None:
        self._members: set[str] = set()
        self._sorted: list[str] = []
        self.keys: Keys | None = None
        self.legacy_keys: Keys | None = None
        self.spilled_runs = 0

    def add_many(self, normalized: Iterable[str]) -> None:
        """Keep normalised identifiers."""
        self._members.update(normalized)

    def send_runs_to(self, on_run: Callable[[KeyFile], None]) -> None:
        """Plain identifiers never spill: they are all sent once read."""

    def freeze(self) -> None:
        """Fix the order in which identifiers are sent."""
        self._sorted = sorted(self._members)
        self._members = set()

    def __len__(self) -> int:
        return len(self._sorted)

    def identifiers(self) -> Iterator[str]:
        """Yield each identifier, in sorted order."""
        yield from self._sorted
