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
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING

import phonenumbers

from airflow_provider_criteo.client.resources import API_IDENTIFIER_TYPES
from airflow_provider_criteo.client.wire import hex_identifiers
from airflow_provider_criteo.identifiers.email import prepare_emails, prepare_plain_email
from airflow_provider_criteo.identifiers.identity_link import IDENTITY_LINK_CODEC, prepare_identity_link
from airflow_provider_criteo.identifiers.legacy_phone import as_sent_before
from airflow_provider_criteo.identifiers.madid import MADID_CODEC, prepare_madid
from airflow_provider_criteo.identifiers.phone import prepare_phone
from airflow_provider_criteo.identifiers.values import (
    prepare_each,
)
from airflow_provider_criteo.segments.member_sets import HashedMembers, KeyCodec, PlainMembers, ValueMembers

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    import numpy as np

    from airflow_provider_criteo.identifiers.values import PreparedChunk
    from airflow_provider_criteo.segments.member_sets import MemberSet

#: The identifier types an export can send (Criteo's ``gum`` needs a caller id and is not offered).
IDENTIFIER_TYPES = tuple(name for name in API_IDENTIFIER_TYPES if name != "gum")


#: E-mails given as MD5 digests, kept as their 16 bytes and sent as lower-case hex.
MD5_CODEC = KeyCodec(16, bytes.fromhex, lambda keys: list(hex_identifiers(keys)))


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

    def wire_lazily(self, keys: np.ndarray, chunk: int) -> np.ndarray | Iterator[str]:
        """Keys as the hook sends them, strings made ``chunk`` at a time as it sends (flat memory)."""
        if self.codec is None:
            return keys
        return itertools.chain.from_iterable(
            self.wire(keys[start : start + chunk]) for start in range(0, len(keys), chunk)
        )

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
