"""What the provider's operators share: rows of identifiers read through common-sql, a Criteo hook, state."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_criteo.defaults import DEFAULT_CHUNK_SIZE, DEFAULT_CONN_ID
from airflow_provider_criteo.hooks.criteo import CriteoHook
from airflow_provider_criteo.identifiers.phone import phone_region as phone_region_of
from airflow_provider_criteo.segments.query import SegmentQuery
from airflow_provider_criteo.segments.query import identifier_columns as identifier_columns_of
from airflow_provider_criteo.sync.snapshots import SnapshotStore
from airflow_provider_criteo.workflows.run_identity import lease_owner, run_identity

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.sdk import Context


class CriteoSqlOperator(BaseOperator):
    """Base of operators that read identifiers from a common-sql database and change Criteo audiences.

    :param sql_conn_id: connection of the database to read (any common-sql hook). (templated)
    :param sql: query returning the rows, or a path to a ``.sql`` file; exclusive with ``table``. (templated)
    :param table: table or view holding the rows; validated and quoted. (templated)
    :param parameters: parameters bound to ``sql``, in the driver's paramstyle. (templated)
    :param identifier_columns: the column of each identifier type (``{"email": "email"}``); without it,
        e-mails only, in ``column``.
    :param column: the e-mail column when ``identifier_columns`` is not given.
    :param column_parameter: the subclass's name for ``column``, for the error of passing both.
    :param phone_region: ISO 3166 region (``"FR"``) of phone numbers written without a country code.
    :param phone_country_code: the older way to say it, a calling code (``"33"``).
    :param criteo_conn_id: the Criteo connection. (templated)
    :param advertiser_id: Criteo advertiser; defaults to the connection's ``advertiser_id``. (templated)
    :param snapshot_location: where mirror snapshots live: a folder or an ``ObjectStoragePath`` URL that
        every worker reaches; default ``[criteo] snapshot_location``. (templated)
    :param hook_params: keyword arguments for :class:`CriteoHook` (``timeout``, ``retry_deadline``, ...).
        (templated)
    :param chunk_size: rows fetched from the database at a time.
    """

    template_fields: Sequence[str] = (
        "sql_conn_id",
        "sql",
        "table",
        "parameters",
        "criteo_conn_id",
        "advertiser_id",
        "snapshot_location",
        "hook_params",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql", "parameters": "json"}
    ui_color = "#f48120"

    def __init__(
        self,
        *,
        sql_conn_id: str,
        identifier_columns: Mapping[str, str] | None = None,
        column: str = "email",
        column_parameter: str = "email_column",
        sql: str | None = None,
        table: str | None = None,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        phone_region: str | None = None,
        phone_country_code: str | None = None,
        criteo_conn_id: str = DEFAULT_CONN_ID,
        advertiser_id: str | None = None,
        snapshot_location: str | None = None,
        hook_params: dict[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (sql is None) == (table is None):
            raise ValueError("Pass exactly one of sql or table.")
        self.sql_conn_id = sql_conn_id
        self.sql = sql
        self.table = table
        self.parameters = parameters
        self.identifier_columns = identifier_columns_of(
            column, identifier_columns, column_parameter=column_parameter
        )
        self.phone_region = phone_region_of(phone_region, phone_country_code)
        self.criteo_conn_id = criteo_conn_id
        self.advertiser_id = advertiser_id
        self.snapshot_location = snapshot_location
        self.hook_params = hook_params or {}
        self.chunk_size = chunk_size

    @cached_property
    def hook(self) -> CriteoHook:
        """The Criteo hook of ``criteo_conn_id``."""
        return CriteoHook(self.criteo_conn_id, **self.hook_params)

    def query(self, *, hash_emails: bool = True) -> SegmentQuery:
        """The rows to read, as the (rendered) arguments say."""
        return SegmentQuery(
            self.sql_conn_id,
            self.sql,
            self.table,
            self.parameters,
            self.identifier_columns,
            phone_region=self.phone_region,
            hash_emails=hash_emails,
            chunk_size=self.chunk_size,
        )

    def snapshot_store(self) -> SnapshotStore:
        """The mirror state's store at ``snapshot_location``."""
        return SnapshotStore.from_config(self.snapshot_location)

    def run_of(self, context: Context) -> dict[str, Any]:
        """What a workflow is told of its run: DAG, run and task, the lease owner (this try), the log."""
        return {"run": run_identity(context, self.task_id), "owner": lease_owner(context), "log": self.log}
