"""The identifier types an export sends, how each is read, and the member lists each keeps.

- ``email``: normalised and SHA-256-hashed (:mod:`airflow_provider_criteo.identifiers`); a value
  given as a SHA-256 or an MD5 hex digest is taken as it is, each hashing in a list of its own.
- ``phoneNumber``: parsed by libphonenumber (``phonenumbers``) into E.164, then hashed as Criteo's
  hashed phone number: the SHA-256 of its digits, without the leading ``+``.
- ``madid``: mobile advertising ids (IDFA, AAID), lower-cased UUIDs sent as they are; the all-zero
  id of a device that limits ad tracking is refused.
- ``identityLink``: LiveRamp IdentityLink ids (RampIDs), sent as they are (case kept).

A Criteo audience keeps one member list per identifier type and form (:class:`IdentifierForm`):
e-mails hashed with SHA-256 and e-mails hashed with MD5 are never sent in one request, and each list
has its own snapshot. Digests Criteo does not take (SHA-1, SHA-512 ..., and any digest of a type sent
as it is) are refused with the reason ``unsupported_hash``. The functions here do no I/O;
:func:`identifier_type` gives what an export needs of each type.
"""

from __future__ import annotations

import functools
import hashlib
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import phonenumbers

from airflow_provider_criteo.identifiers import (
    CONTROL_CHARACTERS,
    Rejection,
    as_text,
    given_hashing,
    hex_digest_algorithm,
    prepare_each,
    prepare_email,
    prepare_emails,
)
from airflow_provider_criteo.legacy_phone import as_sent_before
from airflow_provider_criteo.members import (
    HashedMembers,
    KeyCodec,
    PlainMembers,
    ValueMembers,
    hex_identifiers,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np

    from airflow_provider_criteo.identifiers import PreparedChunk
    from airflow_provider_criteo.members import MemberSet

#: The identifier types an export can send (Criteo's ``gum`` needs a caller id and is not offered).
IDENTIFIER_TYPES = ("email", "phoneNumber", "madid", "identityLink")
#: RampIDs are 70 characters; longer values are refused rather than kept in wider snapshots.
MAX_IDENTITY_LINK_LENGTH = 128

_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
_ZERO_UUID = "00000000-0000-0000-0000-000000000000"
_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")
_COUNTRY_CODE = re.compile(r"[1-9][0-9]{0,2}")
# Letters have no place in a number to match: words, vanity numbers, "ext.", "tel:" ...
_LETTERS = re.compile(r"[^\W\d_]")
# What people put around the digits; a number written with the 00 international prefix starts so.
_PHONE_SEPARATORS = re.compile(r"[\s\-.()/]")

# libphonenumber's reasons, as the task log counts them.
_PARSE_REJECTIONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: Rejection.INVALID_COUNTRY_CODE,
    phonenumbers.NumberParseException.NOT_A_NUMBER: Rejection.INVALID_FORMAT,
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: Rejection.TOO_SHORT,
    phonenumbers.NumberParseException.TOO_SHORT_NSN: Rejection.TOO_SHORT,
    phonenumbers.NumberParseException.TOO_LONG: Rejection.TOO_LONG,
}
_IMPOSSIBLE = {
    phonenumbers.ValidationResult.INVALID_COUNTRY_CODE: Rejection.INVALID_COUNTRY_CODE,
    phonenumbers.ValidationResult.TOO_SHORT: Rejection.TOO_SHORT,
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY: Rejection.TOO_SHORT,  # no area code
    phonenumbers.ValidationResult.TOO_LONG: Rejection.TOO_LONG,
    phonenumbers.ValidationResult.INVALID_LENGTH: Rejection.INVALID_LENGTH,
}


def phone_region(region: str | None = None, country_code: str | None = None) -> str | None:
    """Where phone numbers written without a country code are from: an ISO 3166 region (``"FR"``).

    ``region`` is taken as it is (checked); a calling code (``"33"``, the older setting) maps to its
    main region (``"1"`` is ``"US"``). Without either, such numbers are refused (``no_country_code``).
    """
    if region is not None and country_code is not None:
        raise ValueError("Pass phone_region or phone_country_code, not both: phone_region says it all.")
    if region is not None:
        if not isinstance(region, str) or region.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(
                f"phone_region must be an ISO 3166 region code such as 'FR' or 'US'; not {region!r}."
            )
        return region.upper()
    if country_code is None:
        return None
    main = phonenumbers.region_code_for_country_code(int(country_code)) if _is_code(country_code) else None
    if main not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(
            f"phone_country_code must be the calling code of a country, such as '33' or '1'; not "
            f"{country_code!r}. Prefer phone_region ('FR')."
        )
    return main


def _is_code(country_code: object) -> bool:
    return isinstance(country_code, str) and _COUNTRY_CODE.fullmatch(country_code) is not None


def _trimmed(value: object) -> tuple[str | None, Rejection | None]:
    """A raw column value as trimmed, non-empty text, or the reason it is not (null, not text, empty)."""
    text, rejection = as_text(value)
    if text is None:
        return None, rejection
    text = text.strip()
    return (text, None) if text else (None, Rejection.EMPTY)


def prepare_phone(value: object, region: str | None = None) -> tuple[str | None, Rejection | None]:
    """A phone number as the digits of its E.164 form (``33140402290``), a SHA-256 hex, or why not.

    libphonenumber parses it: ``+`` and ``00`` international numbers, national numbers of ``region``
    (trunk prefix dropped, a country code written without ``+`` recognised), a ``(0)`` after the
    country code. A number it finds impossible is refused with its reason; one that is possible but
    in a range it does not know is kept: Criteo matches it or not.
    """
    text, rejection = _trimmed(value)
    if text is None:
        return None, rejection
    lowered = text.lower()
    if hex_digest_algorithm(lowered):
        return (lowered, None) if given_hashing(lowered) == "sha256" else (None, Rejection.UNSUPPORTED_HASH)
    if CONTROL_CHARACTERS.search(text):
        return None, Rejection.CONTROL_CHARACTERS
    if _LETTERS.search(text):
        return None, Rejection.INVALID_FORMAT
    number, rejection = _parse_phone(text, region)
    if number is None:
        return None, rejection
    if number.extension:
        return None, Rejection.EXTENSION
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None, _IMPOSSIBLE.get(reason, Rejection.INVALID_FORMAT)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:], None


def _parse_phone(
    text: str, region: str | None
) -> tuple[phonenumbers.PhoneNumber, None] | tuple[None, Rejection]:
    """Parse with libphonenumber, trying each reading a notation allows.

    ``00`` is an international prefix even where the region's is another (``011`` in the US, ``010`` in
    Japan), so a number written with it is read both ways: a valid reading wins over one that is merely
    possible (in a range libphonenumber does not know), which wins over none.
    """
    compact = _PHONE_SEPARATORS.sub("", text)
    candidates = ["+" + compact[2:]] if compact.startswith("00") else []
    if region or compact.startswith("+"):
        candidates.append(text)
    rejection = Rejection.NO_COUNTRY_CODE
    readings: list[phonenumbers.PhoneNumber] = []
    for candidate in candidates:
        try:
            readings.append(phonenumbers.parse(candidate, region))
        except phonenumbers.NumberParseException as err:
            rejection = _PARSE_REJECTIONS.get(err.error_type, Rejection.INVALID_FORMAT)
    if not readings:
        return None, rejection
    if len(readings) == 1:  # most numbers: the caller checks it
        return readings[0], None
    # The first of the best readings: on a tie, 00 is the international prefix.
    return max(
        readings, key=lambda n: (phonenumbers.is_valid_number(n), phonenumbers.is_possible_number(n))
    ), None


def prepare_plain_email(value: object) -> tuple[str | None, Rejection | None]:
    """A normalised address to send as it is: a digest cannot go in the same request as addresses."""
    normalized, rejection = prepare_email(value)
    if normalized is not None and given_hashing(normalized):
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


#: E-mails given as MD5 digests, kept as their 16 bytes and sent as lower-case hex.
MD5_CODEC = KeyCodec(16, bytes.fromhex, lambda keys: list(hex_identifiers(keys)))
#: Mobile ad ids kept as their 16 UUID bytes.
MADID_CODEC = KeyCodec(16, lambda value: uuid.UUID(value).bytes, _uuid_values)
IDENTITY_LINK_CODEC = KeyCodec.text(MAX_IDENTITY_LINK_LENGTH)


@dataclass(frozen=True)
class IdentifierForm:
    """One member list of an audience: a Criteo ``identifierType`` in one form, with its own snapshot.

    :param name: Criteo's ``identifierType``.
    :param hashing: how members are sent: ``"sha256"`` or ``"md5"`` (hex digests), ``"none"`` (as
        they are); with ``name``, the folder of its snapshots (``email-sha256``, ``email-md5``).
    :param codec: how members are kept as keys; None for SHA-256 digests (32 bytes, sent as hex)
        and for plain e-mails, of which no keys are kept.
    :param encoding: what the keys are, as snapshots record it: a snapshot of another encoding is
        never diffed as if it held the same identifiers.
    :param legacy_encoding: the encoding of snapshots that record none (written by versions before
        encodings were recorded), when it is not ``encoding``: the members then also keep their keys in
        that form (the type's ``prepare`` gives it), so that a mirror run can migrate such a snapshot.
    :param optional: the list takes part in a run only when it has members or a history (e-mails
        given as MD5 digests): an export without any changes nothing of it.
    :param key_of_plain: this list's key of a normalised identifier of the type, where it can be computed
        (the MD5 of an address): erasing an address then erases its MD5 form too. Exports never use it.
    :param unknown_to_older_versions: versions that recorded no snapshot encoding (0.1 and earlier) did
        not know this list: when one of them committed another list of the audience after this one's
        snapshot, it may have wiped the audience without this list's snapshot saying so.
    """

    name: str
    hashing: str
    codec: KeyCodec | None = None
    encoding: str = ""
    legacy_encoding: str | None = None
    optional: bool = False
    key_of_plain: Callable[[str], bytes] | None = None
    unknown_to_older_versions: bool = False

    @property
    def label(self) -> str:
        """The list's name in logs and summaries: ``email``, or ``email (md5)`` for another form."""
        return self.name if self.hashing in ("sha256", "none") else f"{self.name} ({self.hashing})"

    def new_members(self) -> MemberSet:
        """An empty member set of this list."""
        if self.hashing == "sha256":
            return HashedMembers(keeps_legacy=self.legacy_encoding is not None)
        return PlainMembers() if self.codec is None else ValueMembers(self.codec)

    def encoding_of(self, recorded: str | None) -> str:
        """The encoding of a snapshot that recorded ``recorded`` (None: written before encodings were)."""
        return recorded or self.legacy_encoding or self.encoding

    def wire(self, keys: np.ndarray) -> np.ndarray | list[str]:
        """Keys as the hook sends them: SHA-256 digests as they are (it writes them as hex), else strings."""
        return keys if self.codec is None else self.codec.values(keys)

    def identifiers(self, keys: np.ndarray) -> list[str]:
        """The identifiers of keys as Criteo receives them (digests in hex)."""
        return list(hex_identifiers(keys)) if self.codec is None else self.codec.values(keys)


@dataclass(frozen=True)
class IdentifierType:
    """What an export needs of one identifier column.

    :param name: Criteo's ``identifierType``.
    :param prepare: turns a chunk of raw column values into valid, pre-hashed and rejected values.
    :param forms: the member lists the column feeds: the first takes the valid values, each takes
        the values given as digests of its hashing.
    """

    name: str
    prepare: Callable[[Sequence[object]], PreparedChunk]
    forms: tuple[IdentifierForm, ...]


_EMAIL_SHA256 = IdentifierForm("email", "sha256", encoding="sha256(normalised address)")
_EMAIL_MD5 = IdentifierForm(
    "email",
    "md5",
    MD5_CODEC,
    encoding="md5(normalised address)",
    optional=True,
    key_of_plain=lambda address: hashlib.md5(address.encode()).digest(),
    unknown_to_older_versions=True,
)
_PHONE = IdentifierForm(
    "phoneNumber",
    "sha256",
    encoding="sha256(E.164 digits)",
    legacy_encoding="sha256(E.164 with +, as versions 0.1 and earlier wrote it)",
)


def identifier_type(
    name: str, *, hash_emails: bool = True, phone_region: str | None = None
) -> IdentifierType:
    """The identifier type ``name``; e-mails are sent in plain with ``hash_emails=False``."""
    if name == "email":
        if hash_emails:
            return IdentifierType(name, prepare_emails, (_EMAIL_SHA256, _EMAIL_MD5))
        plain = IdentifierForm(name, "none", encoding="normalised address")
        return IdentifierType(name, functools.partial(prepare_each, prepare_plain_email), (plain,))
    if name == "phoneNumber":
        phone = functools.partial(prepare_phone, region=phone_region)
        code = None if phone_region is None else str(phonenumbers.country_code_for_region(phone_region))
        before = functools.partial(as_sent_before, country_code=code)
        return IdentifierType(name, functools.partial(prepare_each, phone, legacy=before), (_PHONE,))
    if name == "madid":
        form = IdentifierForm(name, "none", MADID_CODEC, encoding="uuid")
        return IdentifierType(name, functools.partial(prepare_each, prepare_madid), (form,))
    if name == "identityLink":
        form = IdentifierForm(name, "none", IDENTITY_LINK_CODEC, encoding="utf-8")
        return IdentifierType(name, functools.partial(prepare_each, prepare_identity_link), (form,))
    raise ValueError(f"identifier type must be one of {', '.join(IDENTIFIER_TYPES)}; not {name!r}.")
