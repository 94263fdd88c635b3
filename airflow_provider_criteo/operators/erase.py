"""CriteoEraseOperator: forget people everywhere this provider sent them (GDPR erasure requests)."""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, cast

from airflow.sdk import BaseOperator

from airflow_provider_criteo.defaults import DEFAULT_CONN_ID
from airflow_provider_criteo.exceptions import CriteoPermissionError, SnapshotCorruptError
from airflow_provider_criteo.hooks.criteo import CONTACT_LIST_READ_ONLY, CriteoHook
from airflow_provider_criteo.identifiers.phone import phone_region as phone_region_of
from airflow_provider_criteo.segments.reading import ReadCounts, read_identifiers, reasons_of
from airflow_provider_criteo.segments.reading import identifier_columns as identifier_columns_of
from airflow_provider_criteo.segments.sorted_keys import union_sorted
from airflow_provider_criteo.segments.source import get_sql_hook, source_query
from airflow_provider_criteo.sync.protocol import hold
from airflow_provider_criteo.sync.snapshots import SnapshotKey, SnapshotStore
from airflow_provider_criteo.workflows.history import AUDIT_COLUMNS, append_record, now
from airflow_provider_criteo.workflows.ownership import is_managed, read_only_error
from airflow_provider_criteo.workflows.run_identity import lease_owner, run_identity

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    import numpy as np
    from airflow.sdk import Context

    from airflow_provider_criteo.client.resources import AudienceSegment
    from airflow_provider_criteo.identifiers.registry import IdentifierForm
    from airflow_provider_criteo.segments.member_sets import KeyedMembers

    #: One member list of the people to forget: its form, their identifiers, every key to erase of them.
    _People = tuple[IdentifierForm, KeyedMembers, np.ndarray]


class CriteoEraseOperator(BaseOperator):
    """Remove people from every Criteo audience this provider manages for an advertiser.

    Reads the people to forget from a table or query of erasure requests: e-mail addresses (or
    SHA-256 or MD5 digests of normalised addresses), and with ``identifier_columns`` their phone
    numbers, mobile ad ids or IdentityLink ids too. Removes them from every audience tagged as managed
    by this provider and from the mirror snapshots of each list (so no later diff re-sends or keeps
    them), and appends an audit record (when, which audiences, how many, digests; never an identifier
    in plain) to ``audit_table``. It needs no data transfer consent: it only takes data back. Phone
    numbers are removed in the form earlier versions sent too (the SHA-256 of the number with its ``+``).

    A managed audience whose contact list Criteo keeps read-only cannot be amended: the others are
    erased and audited, then the task fails naming it.

    Make your segment queries exclude erased people too, or the next export adds them again.

    :param sql_conn_id: connection of the database holding the erasure requests. (templated)
    :param sql: query returning the people to forget; exclusive with ``table``. (templated)
    :param table: table or view of erasure requests. (templated)
    :param parameters: parameters bound to ``sql``. (templated)
    :param identifier_column: the column holding addresses, or their SHA-256 or MD5 hex digests.
    :param identifier_columns: instead of ``identifier_column``, the column of each identifier type,
        as for :class:`SegmentExportOperator`, e.g. ``{"email": "email", "phoneNumber": "phone"}``.
    :param phone_region: ISO 3166 region (``"FR"``) of phone numbers written without a country code.
    :param phone_country_code: the older way to say it, a calling code (``"33"``).
    :param audit_table: table receiving one audit row per run, created when missing. (templated)
    :param audit_conn_id: connection of the audit table; default ``sql_conn_id``. (templated)
    :param criteo_conn_id: the Criteo connection. (templated)
    :param advertiser_id: the advertiser; defaults to the connection's. (templated)
    :param snapshot_location: where mirror snapshots live (see ``SegmentExportOperator``). (templated)
    :param hook_params: keyword arguments for :class:`CriteoHook`.
    """

    template_fields: Sequence[str] = (
        "sql_conn_id",
        "sql",
        "table",
        "parameters",
        "audit_table",
        "audit_conn_id",
        "criteo_conn_id",
        "advertiser_id",
        "snapshot_location",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql", "parameters": "json"}
    ui_color = "#f48120"

    def __init__(
        self,
        *,
        sql_conn_id: str,
        audit_table: str,
        sql: str | None = None,
        table: str | None = None,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        identifier_column: str = "email",
        identifier_columns: Mapping[str, str] | None = None,
        phone_region: str | None = None,
        phone_country_code: str | None = None,
        audit_conn_id: str | None = None,
        criteo_conn_id: str = DEFAULT_CONN_ID,
        advertiser_id: str | None = None,
        snapshot_location: str | None = None,
        hook_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (sql is None) == (table is None):
            raise ValueError("Pass exactly one of sql or table.")
        self.sql_conn_id = sql_conn_id
        self.sql = sql
        self.table = table
        self.parameters = parameters
        self.identifier_column = identifier_column
        self.identifier_columns = identifier_columns_of(
            identifier_column, identifier_columns, column_parameter="identifier_column"
        )
        self.phone_region = phone_region_of(phone_region, phone_country_code)
        self.audit_table = audit_table
        self.audit_conn_id = audit_conn_id
        self.criteo_conn_id = criteo_conn_id
        self.advertiser_id = advertiser_id
        self.snapshot_location = snapshot_location
        self.hook_params = hook_params or {}

    @cached_property
    def hook(self) -> CriteoHook:
        """The Criteo hook of ``criteo_conn_id``."""
        return CriteoHook(self.criteo_conn_id, **self.hook_params)

    def execute(self, context: Context) -> dict[str, Any]:
        """Forget the requested people; return what was done (counts and audience ids)."""
        advertiser = self.hook.resolve_advertiser(self.advertiser_id)
        counts = {name: ReadCounts() for name in self.identifier_columns}
        store = SnapshotStore.from_config(self.snapshot_location)
        store.check_shared()
        people = self._read(counts)
        managed = self._managed_audiences(advertiser, store)
        owner = lease_owner(context)
        erased: list[AudienceSegment] = []
        damaged: list[str] = []
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
            if problem:
                damaged.append(problem)
            erased.append(audience)
            self.log.info("Removed the people from audience %r (id %s).", audience.name, audience.id)
        digests = [digest for kind, members, _ in people for digest in _audit_digests(kind, members.keys)]
        run = run_identity(context, self.task_id)
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
            get_sql_hook(self.audit_conn_id or self.sql_conn_id), self.audit_table, AUDIT_COLUMNS, record
        )
        by_type: dict[str, int] = dict.fromkeys(self.identifier_columns, 0)
        for kind, members, _ in people:
            by_type[kind.name] += len(members)
        summary = {
            "advertiser_id": advertiser,
            "identifiers": len(digests),
            "identifier_types": by_type,
            "rejected_by_reason": reasons_of(counts.values()),
            "audience_ids": [a.id for a in erased],
        }
        self.log.info(
            "Erased %d identifiers from %d audiences of advertiser %s; audit row appended to %s.",
            len(digests),
            len(erased),
            advertiser,
            self.audit_table,
        )
        if read_only:
            raise read_only_error(
                read_only,
                "The people could not be removed from it. Every other managed audience was erased and "
                "audited; ask Criteo, or the partner that maintains the list, to remove them."
                + (f" Also, {_damage_report(damaged)}" if damaged else ""),
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

    def _read(self, counts: dict[str, ReadCounts]) -> list[_People]:
        """The people to forget, by member list: their identifiers, and every key to erase of them.

        The keys add the form earlier versions sent (phone numbers with their +) and the forms derived
        from the values (an address's MD5, in case an export sent it so).
        """
        sql_hook = get_sql_hook(self.sql_conn_id)
        columns = self.identifier_columns
        read = read_identifiers(
            sql_hook,
            source_query(sql_hook, self.sql, self.table, columns.values()),
            self.parameters,
            columns,
            counts,
            log=self.log,
            what="erasure requests",
            phone_region=self.phone_region,
            derive=True,
        )
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


def _damage_report(damaged: Sequence[str]) -> str:
    """What the erasure could not update of audiences whose mirror state is damaged."""
    return (
        "their erasure from the mirror state of these audiences waits for its repair (the people are "
        "gone at Criteo; an export of the audience refuses to run meanwhile): " + "; ".join(damaged)
    )
