"""CriteoEraseOperator: forget people everywhere this provider sent them (GDPR erasure requests)."""

from __future__ import annotations

import json
from collections import Counter
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from airflow.sdk import BaseOperator

from airflow_provider_criteo.defaults import DEFAULT_CONN_ID
from airflow_provider_criteo.history import AUDIT_COLUMNS, append_record, now
from airflow_provider_criteo.hooks.criteo import CriteoHook
from airflow_provider_criteo.identifiers import erasure_digest
from airflow_provider_criteo.members import DIGEST_DTYPE, hex_identifiers
from airflow_provider_criteo.ownership import is_managed
from airflow_provider_criteo.source import get_sql_hook, stream_columns, table_query
from airflow_provider_criteo.state import SnapshotKey, SnapshotStore
from airflow_provider_criteo.task_identity import lock_owner, run_identity

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context


class CriteoEraseOperator(BaseOperator):
    """Remove people from every Criteo audience this provider manages for an advertiser.

    Reads the people to forget (e-mail addresses, or SHA-256 digests of normalised addresses) from a
    table or query of erasure requests, removes them from every audience tagged as managed by this
    provider, removes their digests from the mirror snapshots (so no later diff re-sends or keeps
    them), and appends an audit record (when, which audiences, how many, the digests; never plain
    addresses) to ``audit_table``. It needs no data transfer consent: it only takes data back.

    Make your segment queries exclude erased people too, or the next export adds them again.

    :param sql_conn_id: connection of the database holding the erasure requests. (templated)
    :param sql: query returning the people to forget; exclusive with ``table``. (templated)
    :param table: table or view of erasure requests. (templated)
    :param parameters: parameters bound to ``sql``. (templated)
    :param identifier_column: the column holding addresses or 64-hex SHA-256 digests.
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
        digests, rejected = self._read()
        audiences = [
            s
            for s in self.hook.search_audience_segments(advertiser_ids=[advertiser])
            if is_managed(s.description)
        ]
        store = SnapshotStore.from_config(self.snapshot_location)
        owner = lock_owner(context)
        for audience in audiences:
            self.hook.remove_identifiers(audience.id, hex_identifiers(digests))
            store.forget(SnapshotKey(advertiser_id=advertiser, audience_id=audience.id), digests, owner=owner)
            self.log.info(
                "Removed %d identifiers from audience %r (id %s).", len(digests), audience.name, audience.id
            )
        run = run_identity(context, self.task_id)
        record = {
            **run,
            "erased_at": now(),
            "advertiser_id": advertiser,
            "audience_ids": ",".join(a.id for a in audiences),
            "audiences": len(audiences),
            "identifiers": len(digests),
            "digests": json.dumps(list(hex_identifiers(digests))),
        }
        append_record(
            get_sql_hook(self.audit_conn_id or self.sql_conn_id), self.audit_table, AUDIT_COLUMNS, record
        )
        summary = {
            "advertiser_id": advertiser,
            "identifiers": len(digests),
            "rejected_by_reason": dict(rejected),
            "audience_ids": [a.id for a in audiences],
        }
        self.log.info(
            "Erased %d people from %d audiences of advertiser %s; audit row appended to %s.",
            len(digests),
            len(audiences),
            advertiser,
            self.audit_table,
        )
        return summary

    def _read(self) -> tuple[np.ndarray, Counter[str]]:
        """The distinct digests of the people to forget, and the rejected rows by reason."""
        sql_hook = get_sql_hook(self.sql_conn_id)
        query = (
            self.sql
            if self.sql is not None
            else table_query(sql_hook, self.table or "", [self.identifier_column])
        )
        buffer = bytearray()
        rejected: Counter[str] = Counter()
        for (chunk,) in stream_columns(sql_hook, query, self.parameters, [self.identifier_column]):
            for value in chunk:
                digest, rejection = erasure_digest(value)
                if digest is None:
                    rejected[str(rejection)] += 1
                else:
                    buffer += digest
        if rejected:
            self.log.warning("Erasure requests that are neither an address nor a digest: %s", dict(rejected))
        return np.unique(np.frombuffer(bytes(buffer), dtype=DIGEST_DTYPE)), rejected
