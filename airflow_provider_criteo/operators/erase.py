"""CriteoEraseOperator: forget people everywhere this provider sent them (GDPR erasure requests)."""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, cast

from airflow.sdk import BaseOperator

from airflow_provider_criteo.defaults import DEFAULT_CONN_ID
from airflow_provider_criteo.exceptions import CriteoConfigurationError
from airflow_provider_criteo.history import AUDIT_COLUMNS, append_record, now
from airflow_provider_criteo.hooks.criteo import CriteoHook
from airflow_provider_criteo.identifier_types import phone_region as phone_region_of
from airflow_provider_criteo.mirror import union_sorted
from airflow_provider_criteo.ownership import is_managed
from airflow_provider_criteo.reading import ReadCounts, read_identifiers, reasons_of
from airflow_provider_criteo.reading import identifier_columns as identifier_columns_of
from airflow_provider_criteo.source import get_sql_hook, source_query
from airflow_provider_criteo.state import SnapshotKey, SnapshotStore
from airflow_provider_criteo.task_identity import lock_owner, run_identity

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    import numpy as np
    from airflow.sdk import Context

    from airflow_provider_criteo.identifier_types import IdentifierForm
    from airflow_provider_criteo.members import KeyedMembers
    from airflow_provider_criteo.resources import AudienceSegment


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
    :param identifier_column: the column holding addresses or 64-hex SHA-256 digests.
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
        people = self._read(counts)
        managed = [
            s
            for s in self.hook.search_audience_segments(advertiser_ids=[advertiser])
            if is_managed(s.description)
        ]
        audiences = [audience for audience in managed if not audience.read_only]
        store = SnapshotStore.from_config(self.snapshot_location)
        owner = lock_owner(context)
        for audience in audiences:
            for kind, members in people:
                if not len(members):
                    continue
                keys = _every_form(members)
                self.hook.remove_identifiers(audience.id, kind.wire(keys), identifier_type=kind.name)
                store.forget(SnapshotKey(advertiser, audience.id, kind.name, kind.hashing), keys, owner=owner)
            self.log.info("Removed the people from audience %r (id %s).", audience.name, audience.id)
        digests = [digest for kind, members in people for digest in _audit_digests(kind, members.keys)]
        run = run_identity(context, self.task_id)
        record = {
            **run,
            "erased_at": now(),
            "advertiser_id": advertiser,
            "audience_ids": ",".join(a.id for a in audiences),
            "audiences": len(audiences),
            "identifiers": len(digests),
            "digests": json.dumps(digests),
        }
        append_record(
            get_sql_hook(self.audit_conn_id or self.sql_conn_id), self.audit_table, AUDIT_COLUMNS, record
        )
        by_type: dict[str, int] = dict.fromkeys(self.identifier_columns, 0)
        for kind, members in people:
            by_type[kind.name] += len(members)
        summary = {
            "advertiser_id": advertiser,
            "identifiers": len(digests),
            "identifier_types": by_type,
            "rejected_by_reason": reasons_of(counts.values()),
            "audience_ids": [a.id for a in audiences],
        }
        self.log.info(
            "Erased %d identifiers from %d audiences of advertiser %s; audit row appended to %s.",
            len(digests),
            len(audiences),
            advertiser,
            self.audit_table,
        )
        if len(audiences) < len(managed):
            raise _read_only_error([audience for audience in managed if audience.read_only])
        return summary

    def _read(self, counts: dict[str, ReadCounts]) -> list[tuple[IdentifierForm, KeyedMembers]]:
        """The distinct identifiers of the people to forget, by member list; rejections counted."""
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
        )
        return [
            (form, cast("KeyedMembers", members))
            for form, members in read.members
            if members.keys is not None
        ]


def _every_form(members: KeyedMembers) -> np.ndarray:
    """The keys to erase: the current form, and the one earlier versions sent when there is one."""
    legacy = members.legacy_keys
    return members.keys if legacy is None else union_sorted(members.keys, legacy)


def _audit_digests(kind: IdentifierForm, keys: np.ndarray) -> list[str]:
    """What an audit row keeps of each erased identifier: its digest in hex, or the SHA-256 of its value."""
    if kind.hashing != "none":
        return kind.identifiers(keys)
    return [hashlib.sha256(value.encode()).hexdigest() for value in kind.identifiers(keys)]


def _read_only_error(audiences: list[AudienceSegment]) -> CriteoConfigurationError:
    names = ", ".join(f"{audience.name!r} (id {audience.id})" for audience in audiences)
    return CriteoConfigurationError(
        f"The people could not be removed from {names}: Criteo keeps the contact list read-only "
        "(contactList.isReadOnly), so it takes no amendment. Every other managed audience was erased and "
        "audited. Ask Criteo, or the partner that maintains the list, to remove them."
    )
