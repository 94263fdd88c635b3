"""The identifier types an export sends besides e-mails, and how each is read, kept and sent.

- ``email``: normalised and SHA-256-hashed (:mod:`airflow_provider_criteo.identifiers`).
- ``phoneNumber``: normalised to E.164 (``+`` and 7 to 15 digits; national numbers take the
  configured country code), then SHA-256-hashed like e-mails.
- ``madid``: mobile advertising ids (IDFA, AAID), lower-cased UUIDs sent as they are; the all-zero
  id of a device that limits ad tracking is refused.
- ``identityLink``: LiveRamp IdentityLink ids (RampIDs), sent as they are (case kept).

Hashed types take a value that already is a SHA-256 digest (64 hex digits) as it is; other digests,
and any digest of a type sent as it is (plain e-mails included), are refused with the reason
``unsupported_hash``. The pure
functions here do no I/O; :func:`identifier_type` gives what an export needs of each type.
"""

from __future__ import annotations

import functools
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_criteo.identifiers import (
    CONTROL_CHARACTERS,
    Rejection,
    as_text,
    hex_digest_algorithm,
    is_sha256_hex,
    prepare_each,
    prepare_email,
    prepare_emails,
)
from airflow_provider_criteo.members import HashedMembers, KeyCodec, PlainMembers, ValueMembers

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np

    from airflow_provider_criteo.identifiers import PreparedChunk
    from airflow_provider_criteo.members import MemberSet

#: The identifier types an export can send (Criteo's ``gum`` needs a caller id and is not offered).
IDENTIFIER_TYPES = ("email", "phoneNumber", "madid", "identityLink")
#: RampIDs are 70 characters; longer values are refused rather than kept in wider snapshots.
MAX_IDENTITY_LINK_LENGTH = 128

# Spaces, dashes, dots, parentheses and slashes people put in phone numbers.
_PHONE_SEPARATORS = re.compile(r"[\s\-.()/]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_DIGITS = re.compile(r"[0-9]+")
_COUNTRY_CODE = re.compile(r"[1-9][0-9]{0,2}")
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
_ZERO_UUID = "00000000-0000-0000-0000-000000000000"
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")


def check_country_code(country_code: str | None) -> None:
    """Refuse a phone country code that is not 1 to 3 digits without a leading zero ("33", "1")."""
    if country_code is not None and not _COUNTRY_CODE.fullmatch(country_code):
        raise ValueError(
            f"phone_country_code must be a country calling code of 1 to 3 digits, such as '33' or '1'; "
            f"not {country_code!r}."
        )


def _trimmed(value: object) -> tuple[str | None, Rejection | None]:
    """A raw column value as trimmed, non-empty text, or the reason it is not (null, not text, empty)."""
    text, rejection = as_text(value)
    if text is None:
        return None, rejection
    text = text.strip()
    return (text, None) if text else (None, Rejection.EMPTY)


def prepare_phone(value: object, country_code: str | None = None) -> tuple[str | None, Rejection | None]:
    """A phone number in E.164 (``+33612345678``), a SHA-256 hex digest, or the reason it is rejected.

    International numbers start with ``+`` or ``00``; others are national and take ``country_code``
    (one leading trunk ``0`` dropped), or are refused without one.
    """
    text, rejection = _trimmed(value)
    if text is None:
        return None, rejection
    text = text.lower()
    if algorithm := hex_digest_algorithm(text):
        return (text, None) if algorithm == "SHA-256" else (None, Rejection.UNSUPPORTED_HASH)
    if CONTROL_CHARACTERS.search(text):
        return None, Rejection.CONTROL_CHARACTERS
    number = _PHONE_SEPARATORS.sub("", text)
    if number.startswith("00"):
        number = "+" + number[2:]
    elif not number.startswith("+"):
        if not _DIGITS.fullmatch(number):
            return None, Rejection.INVALID_FORMAT
        if country_code is None:
            return None, Rejection.NO_COUNTRY_CODE
        number = f"+{country_code}{number.removeprefix('0')}"
    return (number, None) if _E164.fullmatch(number) else (None, Rejection.INVALID_FORMAT)


def prepare_plain_email(value: object) -> tuple[str | None, Rejection | None]:
    """A normalised address to send as it is: a digest cannot go in the same request as addresses."""
    normalized, rejection = prepare_email(value)
    if normalized is not None and is_sha256_hex(normalized):
        return None, Rejection.UNSUPPORTED_HASH
    return normalized, rejection


def prepare_madid(value: object) -> tuple[str | None, Rejection | None]:
    """A mobile advertising id as a lower-case UUID with dashes, or the reason it is rejected."""
    text, rejection = _trimmed(value)
    if text is None:
        return None, rejection
    text = text.lower()
    if _UUID.fullmatch(text):
        canonical = str(uuid.UUID(hex=text))
        return (None, Rejection.ZERO_AD_ID) if canonical == _ZERO_UUID else (canonical, None)
    if hex_digest_algorithm(text):
        return None, Rejection.UNSUPPORTED_HASH
    return None, Rejection.INVALID_FORMAT


def prepare_identity_link(value: object) -> tuple[str | None, Rejection | None]:
    """An IdentityLink id, trimmed and otherwise as it is, or the reason it is rejected."""
    text, rejection = _trimmed(value)
    if text is None:
        return None, rejection
    if len(text) > MAX_IDENTITY_LINK_LENGTH:
        return None, Rejection.TOO_LONG
    if CONTROL_CHARACTERS.search(text):
        return None, Rejection.CONTROL_CHARACTERS
    if any(c.isspace() for c in text):
        return None, Rejection.WHITESPACE
    if hex_digest_algorithm(text.lower()):
        return None, Rejection.UNSUPPORTED_HASH
    return (text, None) if _PRINTABLE_ASCII.fullmatch(text) else (None, Rejection.INVALID_FORMAT)


def _uuid_values(keys: np.ndarray) -> list[str]:
    raw = keys.tobytes()  # not the items: numpy would drop trailing zero bytes of a UUID
    return [str(uuid.UUID(bytes=raw[start : start + 16])) for start in range(0, len(raw), 16)]


#: Mobile ad ids kept as their 16 UUID bytes.
MADID_CODEC = KeyCodec(16, lambda value: uuid.UUID(value).bytes, _uuid_values)
IDENTITY_LINK_CODEC = KeyCodec.text(MAX_IDENTITY_LINK_LENGTH)


@dataclass(frozen=True)
class IdentifierType:
    """What an export needs of one Criteo ``identifierType``.

    :param name: Criteo's ``identifierType``.
    :param prepare: turns a chunk of raw column values into valid, pre-hashed and rejected values.
    :param hashed: members are SHA-256 digests, sent as hex (values given as digests are taken as they are).
    :param codec: for a type sent as it is, how its values are kept as keys; None for plain e-mails,
        of which no snapshot is kept.
    """

    name: str
    prepare: Callable[[Sequence[object]], PreparedChunk]
    hashed: bool = True
    codec: KeyCodec | None = None

    @property
    def hashing(self) -> str:
        """How members are sent and kept, as snapshots name it: ``"sha256"`` or ``"none"``."""
        return "sha256" if self.hashed else "none"

    def new_members(self) -> MemberSet:
        """An empty member set of this type."""
        if self.hashed:
            return HashedMembers()
        return PlainMembers() if self.codec is None else ValueMembers(self.codec)

    def wire(self, keys: np.ndarray) -> np.ndarray | list[str]:
        """Keys as the hook sends them: digests as they are (it writes them as hex), values read back."""
        return keys if self.codec is None else self.codec.values(keys)


def identifier_type(
    name: str, *, hash_emails: bool = True, phone_country_code: str | None = None
) -> IdentifierType:
    """The identifier type ``name``; e-mails are sent in plain with ``hash_emails=False``."""
    if name == "email":
        if hash_emails:
            return IdentifierType(name, prepare_emails)
        return IdentifierType(name, functools.partial(prepare_each, prepare_plain_email), hashed=False)
    if name == "phoneNumber":
        phone = functools.partial(prepare_phone, country_code=phone_country_code)
        return IdentifierType(name, functools.partial(prepare_each, phone))
    if name == "madid":
        return IdentifierType(name, functools.partial(prepare_each, prepare_madid), False, MADID_CODEC)
    if name == "identityLink":
        prepare = functools.partial(prepare_each, prepare_identity_link)
        return IdentifierType(name, prepare, False, IDENTITY_LINK_CODEC)
    raise ValueError(f"identifier type must be one of {', '.join(IDENTIFIER_TYPES)}; not {name!r}.")
