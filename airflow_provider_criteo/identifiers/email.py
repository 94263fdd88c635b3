"""E-mail normalisation, validation and hashing: pure functions, no I/O.

Criteo matches e-mails on the lower-case hex SHA-256 of the normalised address (trimmed,
lower-cased; we also apply Unicode NFC so that visually equal addresses hash alike). Values that
cannot be an address are rejected with a reason instead of being sent. Criteo also takes e-mails
hashed with MD5: a value that already is a SHA-256 or an MD5 hex digest is taken as the hashed
address, never hashed again, and kept apart by its hashing (one request must not mix forms); other
digests (SHA-1, SHA-512, ...) are refused.
"""

from __future__ import annotations

import functools
import hashlib
import operator
import re
import unicodedata
from itertools import compress, repeat
from typing import TYPE_CHECKING, cast

from airflow_provider_criteo.client.wire import hex_identifiers
from airflow_provider_criteo.identifiers.values import (
    CONTROL_CHARACTERS,
    PreparedChunk,
    Rejection,
    as_text,
    given_hashing,
    hex_digest_algorithm,
    prepare_each,
)
from airflow_provider_criteo.segments.member_sets import KeyCodec

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

#: E-mails given as MD5 digests, kept as their 16 bytes and sent as lower-case hex.
MD5_CODEC = KeyCodec(16, bytes.fromhex, lambda keys: list(hex_identifiers(keys)))

#: RFC 5321 limits: 64 characters of local part, 254 of address.
MAX_EMAIL_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64

_WHITESPACE = re.compile(r"\s")
# A pragmatic address: a dot-atom-like local part (no quoted strings), and a dotted domain whose
# labels are letters, digits and inner hyphens, ending in an alphabetic or punycode top-level domain.
_EMAIL = re.compile(
    r"(?!\.)(?!.*\.\.)[^@\s\"(),:;<>\[\\\]]+(?<!\.)"
    r"@(?:[^\W_](?:[\w-]*[^\W_])?\.)+(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})"
)
# A strict subset of what _EMAIL and the checks above accept, in plain ASCII: dot-separated atoms of
# ordinary characters, then dotted alphanumeric labels (inner hyphens only) and an alphabetic top-level
# domain. It matches most real addresses in one pass; whatever it does not match takes the full checks.
# Each part can match in one way only, so possessive quantifiers (which never backtrack) change
# nothing but the speed.
_nfc = functools.partial(unicodedata.normalize, "NFC")
_PLAIN_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]++"
_PLAIN_EMAIL = re.compile(
    rf"{_PLAIN_ATOM}(?:\.{_PLAIN_ATOM})*+@(?:[a-z0-9]++(?:-++[a-z0-9]++)*+\.)++[a-z]{{2,63}}"
)


def normalize_email(value: str) -> str:
    """Trim, apply Unicode NFC and lower-case an address (idempotent)."""
    text = value.strip()
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return text.lower()


def email_rejection(normalized: str) -> Rejection | None:
    """Why a normalised value is not a usable address, SHA-256 or MD5 digest; None when it is one."""
    if not normalized:
        return Rejection.EMPTY
    if hex_digest_algorithm(normalized):
        return None if given_hashing(normalized) else Rejection.UNSUPPORTED_HASH
    if len(normalized) > MAX_EMAIL_LENGTH or normalized.find("@") > MAX_LOCAL_PART_LENGTH:
        return Rejection.TOO_LONG
    if CONTROL_CHARACTERS.search(normalized):
        return Rejection.CONTROL_CHARACTERS
    if _WHITESPACE.search(normalized):
        return Rejection.WHITESPACE
    if not _EMAIL.fullmatch(normalized):
        return Rejection.INVALID_FORMAT
    return None


def sha256_hex(normalized: str) -> str:
    """The lower-case hex SHA-256 of the UTF-8 bytes, as Criteo expects hashed e-mails."""
    return hashlib.sha256(normalized.encode()).hexdigest()


def prepare_email(value: object) -> tuple[str | None, Rejection | None]:
    """Turn a raw column value into a normalised address (or digest hex), or the reason it is rejected."""
    text, rejection = as_text(value)
    if text is None:
        return None, rejection
    normalized = normalize_email(text)
    rejection = email_rejection(normalized)
    return (None, rejection) if rejection else (normalized, None)


def prepare_emails(values: Sequence[object]) -> PreparedChunk:
    """Prepare a chunk of raw column values at once: exactly ``prepare_each(prepare_email, values)``.

    The work runs in C over the whole chunk (``map`` of string methods and one regular expression);
    only values outside the common case (not text, non-ASCII, long, hashed or invalid) take the
    per-value checks, so an export spends a fraction of a microsecond per row here.
    """
    texts, rejected = _texts(values)
    normalized = list(map(str.lower, map(_nfc, map(str.strip, texts))))
    # Positions (among the texts) of what the one-pass pattern cannot vouch for: the full checks decide.
    suspects = set(
        compress(range(len(normalized)), map(operator.not_, map(_PLAIN_EMAIL.fullmatch, normalized)))
    )
    if max(map(len, normalized), default=0) > MAX_LOCAL_PART_LENGTH:
        suspects.update(i for i, text in enumerate(normalized) if len(text) > MAX_LOCAL_PART_LENGTH)
    refused: dict[int, Rejection] = {}
    prehashed: list[int] = []
    given: dict[str, list[bytes]] = {}
    for i in sorted(suspects):
        if (reason := email_rejection(normalized[i])) is not None:
            refused[i] = reason
        elif hashing := given_hashing(normalized[i]):
            prehashed.append(i)
            given.setdefault(hashing, []).append(bytes.fromhex(normalized[i]))
    if refused or prehashed:
        normalized = list(compress(normalized, _all_but(len(normalized), [*refused, *prehashed])))
    if refused and rejected:  # texts are the values less the rejected ones: map their positions back
        positions = list(compress(range(len(values)), _all_but(len(values), rejected)))
        refused = {positions[i]: reason for i, reason in refused.items()}
    rejected.update(refused)
    return PreparedChunk(normalized, sorted(rejected.items()), given)


def _texts(values: Sequence[object]) -> tuple[Sequence[str], dict[int, Rejection]]:
    """The text values of a chunk (bytes decoded), and the reason of each value that is not text."""
    odd = list(compress(range(len(values)), map(operator.is_not, map(type, values), repeat(str))))
    if not odd:
        return cast("Sequence[str]", values), {}
    texts = list(values)
    rejected: dict[int, Rejection] = {}
    for index in odd:
        value = texts[index]
        if isinstance(value, str):
            continue
        if isinstance(value, bytes):
            try:
                texts[index] = value.decode()
                continue
            except UnicodeDecodeError:
                pass
        rejected[index] = Rejection.NULL if value is None else Rejection.NOT_TEXT
    if rejected:
        texts = list(compress(texts, _all_but(len(texts), rejected)))
    return cast("list[str]", texts), rejected


def _all_but(size: int, excluded: Iterable[int]) -> list[bool]:
    """Selectors for :func:`itertools.compress`: every position but the excluded ones."""
    selectors = [True] * size
    for index in excluded:
        selectors[index] = False
    return selectors


def prepare_plain_email(value: object) -> tuple[str | None, Rejection | None]:
    """A normalised address to send as it is: a digest cannot go in the same request as addresses."""
    normalized, rejection = prepare_email(value)
    if normalized is not None and given_hashing(normalized):
        return None, Rejection.UNSUPPORTED_HASH
    return normalized, rejection


def prepare_plain_emails(values: Sequence[object]) -> PreparedChunk:
    """Prepare a chunk of addresses to send as they are (``hash_emails=False``)."""
    return prepare_each(prepare_plain_email, values)
