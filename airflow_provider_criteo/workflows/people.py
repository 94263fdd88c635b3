"""The people an erasure forgets: each member list's keys, in every form an export may have sent them.

The keys add the form earlier versions sent (phone numbers with their +) and the forms derived from the
values (an address's MD5, in case an export sent it so); the audit keeps digests of what was read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_criteo.segments.key_files import in_memory
from airflow_provider_criteo.segments.key_streams import union

if TYPE_CHECKING:
    import numpy as np

    from airflow_provider_criteo.identifiers.forms import IdentifierForm
    from airflow_provider_criteo.segments.reading import Read


@dataclass(frozen=True)
class People:
    """The people of one member list: their form, their keys as read, and every key to erase of them."""

    form: IdentifierForm
    read: np.ndarray
    keys: np.ndarray

    def audit_digests(self) -> list[str]:
        """What an audit row keeps of each person read: the digest in hex, or the SHA-256 of the value."""
        identifiers = self.form.identifiers(self.read)
        if self.form.hashing != "none":
            return identifiers
        return [hashlib.sha256(value.encode()).hexdigest() for value in identifiers]


def people_of(read: Read) -> list[People]:
    """The people to forget, by member list (lists that keep no keys, plain e-mails, have none to erase).

    Erasure requests are few: they are held in memory.
    """
    derived = {(form.name, form.hashing): members.keys for form, members in read.derived}
    people: list[People] = []
    for form, members in read.members:
        if members.keys is None:
            continue
        extras = (members.legacy_keys, derived.get((form.name, form.hashing)))
        keys = union([members.keys, *(extra for extra in extras if extra is not None)], None)
        people.append(People(form, in_memory(members.keys), in_memory(keys)))
    return people
