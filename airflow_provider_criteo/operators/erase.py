"""CriteoEraseOperator: forget people everywhere this provider sent them (GDPR erasure requests)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.lineage.datasets import task_lineage
from airflow_provider_criteo.operators.base import CriteoSqlOperator
from airflow_provider_criteo.workflows.erasure import Erasure, ErasureOptions

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context


class CriteoEraseOperator(CriteoSqlOperator):
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
    :param hook_params: keyword arguments for :class:`CriteoHook`. (templated)
    """

    template_fields: Sequence[str] = (*CriteoSqlOperator.template_fields, "audit_table", "audit_conn_id")

    def __init__(
        self,
        *,
        audit_table: str,
        identifier_column: str = "email",
        identifier_columns: Mapping[str, str] | None = None,
        audit_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            identifier_columns=identifier_columns,
            column=identifier_column,
            column_parameter="identifier_column",
            **kwargs,
        )
        self.identifier_column = identifier_column
        self.audit_table = audit_table
        self.audit_conn_id = audit_conn_id
        #: The summary of the last ``execute``, for OpenLineage.
        self.summary: dict[str, Any] | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        """Forget the requested people; return what was done (counts and audience ids)."""
        options = ErasureOptions(self.audit_table, self.audit_conn_id, self.advertiser_id)
        self.summary = Erasure(
            self.hook, self.query(), options, self.snapshot_store(), **self.run_of(context)
        ).run()
        return self.summary

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """OpenLineage: the erasure requests read and the audiences the people were removed from, with
        how many identifiers of each type were requested."""
        summary = self.summary or {}
        return task_lineage(
            self.query(),
            rows_read=None,
            advertiser_id=summary.get("advertiser_id"),
            audience_ids=summary.get("audience_ids", []),
            facet="criteoErasure",
            identifier_counts=summary.get("identifier_types", {}),
        )
