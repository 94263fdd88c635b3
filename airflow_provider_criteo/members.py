"""The de-duplicated member set of one export, kept compact.

Hashed members are kept as raw 32-byte SHA-256 digests in one buffer (32 MB per million members,
no Python object per member), then sorted and de-duplicated by numpy. Plain (unhashed) members,
an opt-in, are kept as a set of strings.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Iterator

DIGEST_SIZE = 32


class MemberSet(Protocol):
    """Collects normalised identifiers and yields each distinct one once, as it is sent to Criteo."""

    @property
    def digests(self) -> np.ndarray | None:
        """The sorted, distinct SHA-256 digests once frozen; None when members are not hashed."""

    def add(self, normalized: str) -> None:
        """Add one normalised identifier."""

    def __len__(self) -> int:
        """Number of distinct identifiers (valid once :meth:`freeze` was called)."""

    def freeze(self) -> None:
        """End collection: de-duplicate."""

    def identifiers(self) -> Iterator[str]:
        """Yield each distinct identifier in the form sent to Criteo."""


class HashedMembers:
    """Distinct SHA-256 digests of normalised identifiers, sent as lower-case hex."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self.digests: np.ndarray = np.empty(0, dtype=f"S{DIGEST_SIZE}")

    def add(self, normalized: str) -> None:
        """Hash and keep one normalised identifier."""
        self._buffer += hashlib.sha256(normalized.encode()).digest()

    def freeze(self) -> None:
        """Sort and de-duplicate the digests, releasing the collection buffer."""
        digests = np.frombuffer(bytes(self._buffer), dtype=f"S{DIGEST_SIZE}")
        self._buffer = bytearray()
        self.digests = np.unique(digests)

    def __len__(self) -> int:
        return len(self.digests)

    def identifiers(self) -> Iterator[str]:
        """Yield each digest as 64 lower-case hex characters, in sorted order."""
        return hex_identifiers(self.digests)


def hex_identifiers(digests: np.ndarray) -> Iterator[str]:
    """Yield each 32-byte digest of an array as the 64 lower-case hex characters Criteo expects."""
    raw = digests.tobytes()
    for start in range(0, len(raw), DIGEST_SIZE):
        yield raw[start : start + DIGEST_SIZE].hex()


class PlainMembers:
    """Distinct normalised identifiers sent as they are (``hash_emails=False``)."""

    def __init__(self) -> None:
        self._members: set[str] = set()
        self._sorted: list[str] = []
        self.digests: np.ndarray | None = None

    def add(self, normalized: str) -> None:
        """Keep one normalised identifier."""
        self._members.add(normalized)

    def freeze(self) -> None:
        """Fix the order in which identifiers are sent."""
        self._sorted = sorted(self._members)
        self._members = set()

    def __len__(self) -> int:
        return len(self._sorted)

    def identifiers(self) -> Iterator[str]:
        """Yield each identifier, in sorted order."""
        yield from self._sorted
