"""The people an erasure forgets: each member list's keys, in every form an export may have sent them.

The keys add the form earlier versions sent (phone numbers with their +) and the forms derived from the
values (an address's MD5, in case an export sent it so); the audit keeps digests of what was read.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_criteo.segments.sorted_keys import union_sorted

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
    """The people to forget, by member list (lists that keep no keys, plain e-mails, have none to erase)."""
    derived = {(form.name, form.hashing): members.keys for form, members in read.derived}
    people: list[People] = []
    for form, members in read.members:
        if members.keys is None:
            continue
        keys = members.keys
        for extra in (members.legacy_keys, derived.get((form.name, form.hashing))):
            if extra is not None and len(extra):
                keys = union_sorted(keys, extra)
        people.append(People(form, members.keys, keys))
    return people
