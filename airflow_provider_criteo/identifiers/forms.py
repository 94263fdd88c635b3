"""A member list of an audience (:class:`IdentifierForm`), and what an export needs of an identifier column.

A Criteo audience keeps one member list per identifier type and form: e-mails hashed with SHA-256
and e-mails hashed with MD5 are never sent in one request, and each list has its own snapshot.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from airflow_provider_criteo.client.resources import DigestStream
from airflow_provider_criteo.client.wire import hex_identifiers
from airflow_provider_criteo.segments.key_files import KeyFile, chunks
from airflow_provider_criteo.segments.member_sets import HashedMembers, KeyCodec, PlainMembers, ValueMembers

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np

    from airflow_provider_criteo.client.resources import Identifiers
    from airflow_provider_criteo.identifiers.values import PreparedChunk
    from airflow_provider_criteo.segments.key_files import Keys, Spilling
    from airflow_provider_criteo.segments.member_sets import KeyedMembers, MemberSet

    #: The member set of each member list (an identifier type in one form), in column order.
    Members = list[tuple["IdentifierForm", MemberSet]]


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

    @property
    def keeps_keys(self) -> bool:
        """Whether its members are kept as keys, with snapshots (all but plain e-mails)."""
        return self.hashing == "sha256" or self.codec is not None

    def new_members(self, spilling: Spilling | None = None) -> MemberSet:
        """An empty member set of this list; with ``spilling``, one that spills sorted runs to disk."""
        if self.hashing == "sha256":  # keeps_keys
            return HashedMembers(keeps_legacy=self.legacy_encoding is not None, spilling=spilling)
        return PlainMembers() if self.codec is None else ValueMembers(self.codec, spilling)

    def encoding_of(self, recorded: str | None) -> str:
        """The encoding of a snapshot that recorded ``recorded`` (None: written before encodings were)."""
        return recorded or self.legacy_encoding or self.encoding

    def wire(self, keys: np.ndarray) -> np.ndarray | list[str]:
        """Keys as the hook sends them: SHA-256 digests as they are (it writes them as hex), else strings."""
        return keys if self.codec is None else self.codec.values(keys)

    def wire_lazily(self, keys: Keys, chunk: int) -> Identifiers:
        """Keys as the hook sends them, made ``chunk`` at a time as it sends (flat memory): digests as
        an array (or, from disk, a stream of arrays of ``chunk``), other keys as strings."""
        if self.codec is None:
            return DigestStream(chunks(keys, chunk)) if isinstance(keys, KeyFile) else keys
        return itertools.chain.from_iterable(map(self.wire, chunks(keys, chunk)))

    def identifiers(self, keys: Keys) -> list[str]:
        """The identifiers of keys as Criteo receives them (digests in hex)."""
        if self.codec is None:
            return [value for part in chunks(keys) for value in hex_identifiers(part)]
        return [value for part in chunks(keys) for value in self.codec.values(part)]


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

    def collect(self, values: Sequence[object], forms: Members, derived: Members) -> PreparedChunk:
        """Prepare a chunk of the column into the member sets of its ``forms``; return what was prepared.

        The first form takes the valid values; each form takes the values given as digests of its
        hashing; ``derived`` sets take their forms' keys of the valid values.
        """
        prepared = self.prepare(values)
        forms[0][1].add_many(prepared.valid)
        for form, members in derived:
            if form.key_of_plain is not None:
                cast("KeyedMembers", members).add_digests(map(form.key_of_plain, prepared.valid))
        if prepared.legacy:
            cast("HashedMembers", forms[0][1]).add_legacy(prepared.legacy)
        for form, members in forms:
            if digests := prepared.given.get(form.hashing):
                cast("KeyedMembers", members).add_digests(digests)
        return prepared
