"""The identifier types an export sends, how each is read, and the member lists each keeps.

- ``email``: normalised and SHA-256-hashed (:mod:`airflow_provider_criteo.identifiers.email`); a value
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

from airflow_provider_criteo.client.resources import API_IDENTIFIER_TYPES
from airflow_provider_criteo.identifiers.email import MD5_CODEC, prepare_emails, prepare_plain_emails
from airflow_provider_criteo.identifiers.forms import IdentifierForm, IdentifierType
from airflow_provider_criteo.identifiers.identity_link import IDENTITY_LINK_CODEC, prepare_identity_links
from airflow_provider_criteo.identifiers.madid import MADID_CODEC, prepare_madids
from airflow_provider_criteo.identifiers.phone import prepare_phones

#: The identifier types an export can send (Criteo's ``gum`` needs a caller id and is not offered).
IDENTIFIER_TYPES = tuple(name for name in API_IDENTIFIER_TYPES if name != "gum")


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
        return IdentifierType(name, prepare_plain_emails, (plain,))
    if name == "phoneNumber":
        return IdentifierType(name, functools.partial(prepare_phones, region=phone_region), (_PHONE,))
    if name == "madid":
        form = IdentifierForm(name, "none", MADID_CODEC, encoding="uuid")
        return IdentifierType(name, prepare_madids, (form,))
    if name == "identityLink":
        form = IdentifierForm(name, "none", IDENTITY_LINK_CODEC, encoding="utf-8")
        return IdentifierType(name, prepare_identity_links, (form,))
    raise ValueError(f"identifier type must be one of {', '.join(IDENTIFIER_TYPES)}; not {name!r}.")
