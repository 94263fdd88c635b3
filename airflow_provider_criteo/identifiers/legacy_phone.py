"""How versions 0.1 and earlier wrote phone numbers, kept only to recognise what they sent.

They normalised with hand-written rules and hashed the E.164 string *with* its ``+``, a form no Criteo
digest matches. A snapshot they committed holds those digests; to migrate it, a run must know which of
them belong to people still in the segment, so it computes, for each current number, the digest the old
rules gave it (:func:`as_sent_before`). Nothing here decides what is sent now.
"""

from __future__ import annotations

import re

from airflow_provider_criteo.identifiers.values import CONTROL_CHARACTERS, as_text, hex_digest_algorithm

_SEPARATORS = re.compile(r"[\s\-.()/]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_DIGITS = re.compile(r"[0-9]+")


def as_sent_before(value: object, country_code: str | None) -> str | None:
    """The E.164 string (``+33612345678``) versions 0.1 and earlier hashed for a raw value, or None.

    None when they refused the value or took it as a digest (a digest was sent as it is, then and now).
    ``country_code`` is the calling code they were given (``phone_country_code``).
    """
    text, _ = as_text(value)
    if text is None:
        return None
    text = text.strip().lower()
    if not text or hex_digest_algorithm(text) or CONTROL_CHARACTERS.search(text):
        return None
    number = _SEPARATORS.sub("", text)
    if number.startswith("00"):
        number = "+" + number[2:]
    elif not number.startswith("+"):
        if not _DIGITS.fullmatch(number) or country_code is None:
            return None
        number = f"+{country_code}{number.removeprefix('0')}"
    return number if _E164.fullmatch(number) else None
