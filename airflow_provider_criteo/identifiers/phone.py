"""Phone numbers.

Parsed by libphonenumber into E.164, sent as Criteo's hashed phone number (the SHA-256 of the E.164
digits, without the leading +).
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING

import phonenumbers

from airflow_provider_criteo.identifiers.legacy_phone import as_sent_before
from airflow_provider_criteo.identifiers.values import (
    CONTROL_CHARACTERS,
    PreparedChunk,
    Rejection,
    given_hashing,
    hex_digest_algorithm,
    prepare_each,
    trimmed,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

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


def prepare_phone(value: object, region: str | None = None) -> tuple[str | None, Rejection | None]:
    """A phone number as the digits of its E.164 form (``33140402290``), a SHA-256 hex, or why not.

    libphonenumber parses it: ``+`` and ``00`` international numbers, national numbers of ``region``
    (trunk prefix dropped, a country code written without ``+`` recognised), a ``(0)`` after the
    country code. A number it finds impossible is refused with its reason; one that is possible but
    in a range it does not know is kept: Criteo matches it or not.
    """
    text, rejection = trimmed(value)
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


def prepare_phones(values: Sequence[object], region: str | None = None) -> PreparedChunk:
    """Prepare a chunk of phone numbers, each also in the form versions 0.1 and earlier sent it."""
    code = None if region is None else str(phonenumbers.country_code_for_region(region))
    return prepare_each(
        functools.partial(prepare_phone, region=region),
        values,
        legacy=functools.partial(as_sent_before, country_code=code),
    )


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
