"""What a task tells OpenLineage: the tables its query read, with the rows it read, and the Criteo
audiences it wrote, each with its identifiers counted per type; never an identifier.

OpenLineage is optional (the ``openlineage`` extra, ``apache-airflow-providers-openlineage``): without
it, :func:`task_lineage` returns None and nothing of it is imported.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.segments.source import get_sql_hook, source_query

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_criteo.segments.query import SegmentQuery

#: The OpenLineage namespace of Criteo's audiences; a dataset's name says whose and which.
CRITEO_NAMESPACE = "criteo"
#: The DB-API placeholders OpenLineage's SQL parser cannot read (``%s``, ``%(name)s``: psycopg2's);
#: the query it parses has NULL in their place, which names the same tables.
PYFORMAT_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s")


def audience_dataset_name(advertiser_id: str, audience_id: str) -> str:
    """The OpenLineage name of one audience: ``advertisers/<advertiser>/audiences/<audience>``."""
    return f"advertisers/{advertiser_id}/audiences/{audience_id}"


def task_lineage(
    query: SegmentQuery,
    *,
    rows_read: int | None,
    advertiser_id: str | None,
    audience_ids: Sequence[str],
    identifier_counts: Mapping[str, int],
) -> OperatorLineage | None:
    """The lineage of a task that read ``query`` and wrote ``audience_ids`` (none for a dry run).

    ``rows_read`` becomes the input's row count when the query reads one table; ``identifier_counts``
    (identifiers per type) are the outputs' statistics.
    """
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    from airflow_provider_criteo.lineage.facets import audience_output, counted_inputs

    read = _query_lineage(query)
    outputs = [
        audience_output(CRITEO_NAMESPACE, audience_dataset_name(advertiser_id, audience), identifier_counts)
        for audience in audience_ids
        if advertiser_id
    ]
    return OperatorLineage(
        inputs=counted_inputs(read.inputs, rows_read),
        outputs=outputs,
        run_facets=read.run_facets,
        job_facets=read.job_facets,
    )


def _query_lineage(query: SegmentQuery) -> OperatorLineage:
    """The tables ``query`` reads, parsed from its SQL as common-sql's operators do.

    A hook that names its database for OpenLineage (PostgreSQL, Snowflake, ...) also gives the tables'
    schemas; one that does not (SQLite) is named from its connection (``sqlite://<path>``, tables in
    schema ``main``).
    """
    from airflow.providers.openlineage.sqlparser import DatabaseInfo, SQLParser
    from airflow.providers.openlineage.utils.utils import should_use_external_connection

    hook = get_sql_hook(query.conn_id)
    connection = hook.get_connection(query.conn_id)
    info = hook.get_openlineage_database_info(connection)
    named = info is not None
    if info is None:
        info = DatabaseInfo(scheme=connection.conn_type, authority=connection.host or None)
    use_connection = named and should_use_external_connection(hook)
    # SQLite's hook says nothing of its schema; SQLite's own name for it is "main".
    schema = "main" if connection.conn_type == "sqlite" else hook.get_openlineage_default_schema()
    parser = SQLParser(dialect=hook.get_openlineage_database_dialect(connection), default_schema=schema)
    sql = source_query(hook, query.sql, query.table, list(query.columns.values()))
    return parser.generate_openlineage_metadata_from_sql(
        sql=PYFORMAT_PLACEHOLDER.sub("NULL", sql),
        hook=hook,
        database_info=info,
        sqlalchemy_engine=hook.get_sqlalchemy_engine() if use_connection else None,
        use_connection=use_connection,
    )


def members_by_type(identifier_types: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """An export summary's distinct members per identifier type (all its forms together)."""
    return {
        name: sum(int(form.get("members", 0)) for form in counts.get("forms", {}).values())
        for name, counts in identifier_types.items()
    }
