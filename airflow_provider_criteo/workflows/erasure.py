"""The erasure: forget people everywhere this provider sent them (GDPR erasure requests).

:class:`Erasure` is what the ``CriteoEraseOperator`` runs; it needs no operator.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_criteo.client.resources import CONTACT_LIST_READ_ONLY
from airflow_provider_criteo.exceptions import (
    AudienceLockedError,
    CriteoPermissionError,
    LeaseLostError,
    SnapshotCorruptError,
)
from airflow_provider_criteo.segments.reading import reasons_of
from airflow_provider_criteo.segments.sorted_keys import union_sorted
from airflow_provider_criteo.segments.source import get_sql_hook
from airflow_provider_criteo.sync.protocol import hold
from airflow_provider_criteo.sync.snapshots import SnapshotKey
from airflow_provider_criteo.workflows.history import AUDIT_COLUMNS, append_record, now
from airflow_provider_criteo.workflows.ownership import is_managed, read_only_error
from airflow_provider_criteo.workflows.workflow import Workflow

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np

    from airflow_provider_criteo.client.resources import AudienceSegment
    from airflow_provider_criteo.hooks.criteo import CriteoHook
    from airflow_provider_criteo.identifiers.registry import IdentifierForm
    from airflow_provider_criteo.segments.member_sets import KeyedMembers
    from airflow_provider_criteo.segments.query import SegmentQuery
    from airflow_provider_criteo.segments.reading import Read
    from airflow_provider_criteo.sync.snapshots import SnapshotStore

    #: One member list of the people to forget: its form, their identifiers, every key to erase of them.
    _People = tuple[IdentifierForm, KeyedMembers, np.ndarray]


class Erasure(Workflow):
    """One erasure run: the people ``query`` names, removed from every managed audience of the advertiser.

    :param audit_table: the table receiving the run's audit row (in ``audit_conn_id``, else the query's).
    """

    def __init__(
        self,
        hook: CriteoHook,
        query: SegmentQuery,
        store: SnapshotStore,
        *,
        audit_table: str,
        audit_conn_id: str | None = None,
        advertiser_id: str | None = None,
        **run: Any,
    ) -> None:
        super().__init__(hook, query, store, **run)
        self.audit_table = audit_table
        self.audit_conn_id = audit_conn_id
        self.advertiser_id = advertiser_id

    def run(self) -> dict[str, Any]:
        """Forget the requested people; return what was done (counts and audience ids)."""
        advertiser = self.hook.resolve_advertiser(self.advertiser_id)
        store = self.store
        store.check_shared()
        read = self.query.read(log=self.log, what="erasure requests", derive=True)
        people = _people(read)
        managed = self._managed_audiences(advertiser, store)
        owner = self.owner
        erased: list[AudienceSegment] = []
        damaged: list[str] = []
        busy: list[str] = []
        read_only = [audience for audience in managed if audience.read_only]
        for audience in managed:
            if audience.read_only:
                continue
            try:
                problem = self._erase_from(advertiser, audience, people, store, owner)
            except CriteoPermissionError as err:  # a read-only list Criteo did not say was one
                if CONTACT_LIST_READ_ONLY not in err.codes:
                    raise
                read_only.append(audience)
                continue
            except (AudienceLockedError, LeaseLostError) as err:  # an export holds it: erase the others
                busy.append(f"audience {audience.name!r} (id {audience.id}): {type(err).__name__}")
                continue
            if problem:
                damaged.append(problem)
            erased.append(audience)
            self.log.info("Removed the people from audience %r (id %s).", audience.name, audience.id)
        digests = [digest for kind, members, _ in people for digest in _audit_digests(kind, members.keys)]
        run = self.run_identity
        record = {
            **run,
            "erased_at": now(),
            "advertiser_id": advertiser,
            "audience_ids": ",".join(a.id for a in erased),
            "audiences": len(erased),
            "identifiers": len(digests),
            "digests": json.dumps(digests),
        }
        append_record(
            get_sql_hook(self.audit_conn_id or self.query.conn_id), self.audit_table, AUDIT_COLUMNS, record
        )
        by_type: dict[str, int] = dict.fromkeys(self.query.columns, 0)
        for kind, members, _ in people:
            by_type[kind.name] += len(members)
        summary = {
            "advertiser_id": advertiser,
            "identifiers": len(digests),
            "identifier_types": by_type,
            "rejected_by_reason": reasons_of(read.counts.values()),
            "audience_ids": [a.id for a in erased],
        }
        self.log.info(
            "Erased %d identifiers from %d audiences of advertiser %s; audit row appended to %s.",
            len(digests),
            len(erased),
            advertiser,
            self.audit_table,
        )
        also = "".join(
            f" Also, {report}" for report in (_busy_report(busy), _damage_report(damaged)) if report
        )
        if read_only:
            raise read_only_error(
                read_only,
                "The people could not be removed from it. Every other managed audience was erased and "
                "audited; ask Criteo, or the partner that maintains the list, to remove them." + also,
            )
        if busy:
            damage = f" Also, {_damage_report(damaged)}" if damaged else ""
            raise AudienceLockedError(
                f"The people were removed and audited, but {_busy_report(busy)}.{damage}"
            )
        if damaged:
            raise SnapshotCorruptError(f"The people were removed and audited, but {_damage_report(damaged)}")
        return summary

    def _managed_audiences(self, advertiser: str, store: SnapshotStore) -> list[AudienceSegment]:
        """The advertiser's audiences this provider manages: tagged, or with snapshots in the store.

        The snapshots make up for a description Criteo leaves out (it is optional in its schema).
        """
        with_snapshots = set(store.audiences(advertiser))
        return [
            segment
            for segment in self.hook.search_audience_segments(advertiser_ids=[advertiser])
            if is_managed(segment.description) or segment.id in with_snapshots
        ]

    def _erase_from(
        self,
        advertiser: str,
        audience: AudienceSegment,
        people: list[_People],
        store: SnapshotStore,
        owner: str,
    ) -> str | None:
        """Remove the people from one audience's member lists and snapshots, under fenced leases.

        Return what kept its state from being updated (damaged state, which the people's removal at
        Criteo does not wait for: an erasure must not), or None. A list that only derived keys would
        touch (the MD5 form of addresses) is left alone where exports never sent it.
        """
        touched = []
        for kind, members, keys in people:
            key = SnapshotKey(advertiser, audience.id, kind.name, kind.hashing)
            if len(keys) and (len(members) or store.has_history(key)):
                touched.append((kind, keys, key))
        try:
            with hold(store, [key for _, _, key in touched], owner) as leases:
                histories = {key: leases[key].history() for _, _, key in touched}  # damage shows here
                for kind, keys, key in touched:
                    self._remove(audience, kind, keys, leases.check)
                    leases[key].forget(keys, histories[key])
        except SnapshotCorruptError as err:  # raised before anything was sent
            for kind, keys, _ in touched:
                self._remove(audience, kind, keys, None)
            return f"audience {audience.name!r} (id {audience.id}): {err}"
        return None

    def _remove(
        self,
        audience: AudienceSegment,
        kind: IdentifierForm,
        keys: np.ndarray,
        check: Callable[[], object] | None,
    ) -> None:
        """Remove keys of one form from an audience at Criteo; ``check`` runs before each request."""
        self.hook.remove_identifiers(
            audience.id, kind.wire(keys), identifier_type=kind.name, precondition=check
        )


def _people(read: Read) -> list[_People]:
    """The people to forget, by member list: their identifiers, and every key to erase of them.

    The keys add the form earlier versions sent (phone numbers with their +) and the forms derived
    from the values (an address's MD5, in case an export sent it so).
    """
    derived = {(form.name, form.hashing): members.keys for form, members in read.derived}
    people: list[_People] = []
    for form, members in read.members:
        if members.keys is None:
            continue
        keys = members.keys
        for extra in (members.legacy_keys, derived.get((form.name, form.hashing))):
            if extra is not None and len(extra):
                keys = union_sorted(keys, extra)
        people.append((form, cast("KeyedMembers", members), keys))
    return people


def _audit_digests(kind: IdentifierForm, keys: np.ndarray) -> list[str]:
    """What an audit row keeps of each erased identifier: its digest in hex, or the SHA-256 of its value."""
    if kind.hashing != "none":
        return kind.identifiers(keys)
    return [hashlib.sha256(value.encode()).hexdigest() for value in kind.identifiers(keys)]


def _busy_report(busy: Sequence[str]) -> str:
    """The audiences another run held, which the erasure left for its next run ("" when none)."""
    if not busy:
        return ""
    return (
        "not from these audiences, which another run held: run the erasure again once it is done (erasing "
        "twice is harmless): " + "; ".join(busy)
    )


def _damage_report(damaged: Sequence[str]) -> str:
    """What the erasure could not update of audiences whose mirror state is damaged ("" when none)."""
    if not damaged:
        return ""
    return (
        "their erasure from the mirror state of these audiences waits for its repair (the people are "
        "gone at Criteo; an export of the audience refuses to run meanwhile): " + "; ".join(damaged)
    )
