"""What every identifier type shares.

Reasons to reject a value, text from a column value, digests given in hex, and preparing a chunk value by
value.
"""

from __future__ import annotations

import enum
import re
from typing import TYPE_CHECKING, NamedTuple, cast

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: Bytes of a SHA-256 digest: the key of a hashed member, and what Criteo takes of a hashed identifier.
DIGEST_SIZE = 32
DIGEST_DTYPE = f"S{DIGEST_SIZE}"


# Control, format and separator characters never belong in an address.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")


class Rejection(enum.StrEnum):
    """Why a value was not sent: the reasons the task log counts."""

    NULL = "null"
    NOT_TEXT = "not_text"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    CONTROL_CHARACTERS = "control_characters"
    WHITESPACE = "whitespace"
    INVALID_FORMAT = "invalid_format"
    UNSUPPORTED_HASH = "unsupported_hash"
    NO_COUNTRY_CODE = "no_country_code"
    INVALID_COUNTRY_CODE = "invalid_country_code"
    TOO_SHORT = "too_short"
    INVALID_LENGTH = "invalid_length"
    EXTENSION = "extension"
    ZERO_AD_ID = "zero_ad_id"


#: Lengths of hex digests by algorithm: a value of only these many hex digits is a hashed identifier.
HEX_DIGEST_ALGORITHMS = {32: "MD5", 40: "SHA-1", 56: "SHA-224", 64: "SHA-256", 96: "SHA-384", 128: "SHA-512"}


#: The hashings in which an identifier may be given already hashed, by the length of its hex digest:
#: the names member lists and snapshot folders use (``email-sha256``, ``email-md5``).
GIVEN_HASHINGS = {64: "sha256", 32: "md5"}


_HEX = re.compile(r"[0-9a-f]+")


def hex_digest_algorithm(normalized: str) -> str | None:
    """The hash algorithm a lower-case value is a hex digest of (by its length), or None."""
    algorithm = HEX_DIGEST_ALGORITHMS.get(len(normalized))
    return algorithm if algorithm and _HEX.fullmatch(normalized) else None


def given_hashing(normalized: str) -> str | None:
    """The hashing (``"sha256"``, ``"md5"``) of a lower-case value that is a digest Criteo takes, or None."""
    hashing = GIVEN_HASHINGS.get(len(normalized))
    return hashing if hashing and _HEX.fullmatch(normalized) else None


def as_text(value: object) -> tuple[str | None, Rejection | None]:
    """A raw column value as text (UTF-8 bytes decoded), or the reason it is not text."""
    if value is None:
        return None, Rejection.NULL
    if isinstance(value, bytes):
        try:
            return value.decode(), None
        except UnicodeDecodeError:
            return None, Rejection.NOT_TEXT
    if not isinstance(value, str):
        return None, Rejection.NOT_TEXT
    return value, None


class PreparedChunk(NamedTuple):
    """A chunk of raw values, prepared: the valid identifiers, and the others by position and reason."""

    #: The normalised identifiers of the valid values, in chunk order (digests given in hex excepted).
    valid: list[str]
    #: ``(position in the chunk, reason)`` of every rejected value, in chunk order.
    rejected: list[tuple[int, Rejection]]
    #: The raw digests of the values that were given already hashed, by hashing, in chunk order.
    given: dict[str, list[bytes]]
    #: For a type whose earlier versions sent another form: that form of each valid value they took.
    legacy: Sequence[str] = ()


def prepare_each(
    prepare: Callable[[object], tuple[str | None, Rejection | None]],
    values: Sequence[object],
    legacy: Callable[[object], str | None] | None = None,
) -> PreparedChunk:
    """Prepare a chunk value by value with ``prepare``; values given as digests go to ``given``.

    With ``legacy``, each valid value's earlier form (when earlier versions took it) goes to ``legacy``.
    """
    valid: list[str] = []
    rejected: list[tuple[int, Rejection]] = []
    given: dict[str, list[bytes]] = {}
    earlier: list[str] = []
    for position, value in enumerate(values):
        normalized, rejection = prepare(value)
        if normalized is None:
            rejected.append((position, cast("Rejection", rejection)))
        elif hashing := given_hashing(normalized):
            given.setdefault(hashing, []).append(bytes.fromhex(normalized))
        else:
            valid.append(normalized)
            if legacy is not None and (before := legacy(value)) is not None:
                earlier.append(before)
    return PreparedChunk(valid, rejected, given, earlier)


def trimmed(value: object) -> tuple[str | None, Rejection | None]:
    """A raw column value as trimmed, non-empty text, or the reason it is not (null, not text, empty)."""
    text, rejection = as_text(value)
    if text is None:
        return None, rejection
    text = text.strip()
    return (text, None) if text else (None, Rejection.EMPTY)
