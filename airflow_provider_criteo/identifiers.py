"""E-mail normalisation, validation and hashing: pure functions, no I/O.

Criteo matches e-mails on the lower-case hex SHA-256 of the normalised address (trimmed,
lower-cased; we also apply Unicode NFC so that visually equal addresses hash alike). Values that
cannot be an address are rejected with a reason instead of being sent.
"""

from __future__ import annotations

import enum
import hashlib
import re
import unicodedata

#: RFC 5321 limits: 64 characters of local part, 254 of address.
MAX_EMAIL_LENGTH = 254
MAX_LOCAL_PART_LENGTH = 64

# Control, format and separator characters never belong in an address.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]")
_WHITESPACE = re.compile(r"\s")
# A pragmatic address: a dot-atom-like local part (no quoted strings), and a dotted domain whose
# labels are letters, digits and inner hyphens, ending in an alphabetic or punycode top-level domain.
_EMAIL = re.compile(
    r"(?!\.)(?!.*\.\.)[^@\s\"(),:;<>\[\\\]]+(?<!\.)"
    r"@(?:[^\W_](?:[\w-]*[^\W_])?\.)+(?:[^\W\d_]{2,63}|xn--[a-z0-9-]{1,59})"
)


class Rejection(enum.StrEnum):
    """Why a value was not sent: the reasons the task log counts."""

    NULL = "null"
    NOT_TEXT = "not_text"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    CONTROL_CHARACTERS = "control_characters"
    WHITESPACE = "whitespace"
    INVALID_FORMAT = "invalid_format"


def normalize_email(value: str) -> str:
    """Trim, apply Unicode NFC and lower-case an address (idempotent)."""
    text = value.strip()
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    return text.lower()


def email_rejection(normalized: str) -> Rejection | None:
    """Return why a normalised value is not a usable address, or None when it is one."""
    if not normalized:
        return Rejection.EMPTY
    if len(normalized) > MAX_EMAIL_LENGTH or normalized.find("@") > MAX_LOCAL_PART_LENGTH:
        return Rejection.TOO_LONG
    if _CONTROL.search(normalized):
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
    """Turn a raw column value into a normalised address, or into the reason it is rejected."""
    if value is None:
        return None, Rejection.NULL
    if isinstance(value, bytes):
        try:
            value = value.decode()
        except UnicodeDecodeError:
            return None, Rejection.NOT_TEXT
    if not isinstance(value, str):
        return None, Rejection.NOT_TEXT
    normalized = normalize_email(value)
    rejection = email_rejection(normalized)
    return (None, rejection) if rejection else (normalized, None)
