"""What a task tells OpenLineage: the tables its query read, with the rows it read, and the Criteo
audiences it wrote; counts only, nothing it read from the warehouse.

OpenLineage is optional (the ``openlineage`` extra, ``apache-airflow-providers-openlineage``): without
it, :func:`task_lineage` returns None and nothing of it is imported.
"""

from __future__ import annotations

import logging
import os
import re
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.segments.source import get_sql_hook, source_query

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_criteo.segments.query import SegmentQuery

log = logging.getLogger(__name__)

#: The OpenLineage namespace of Criteo's audiences; a dataset's name says whose and which.
CRITEO_NAMESPACE = "criteo"
#: psycopg2's placeholders, which OpenLineage's SQL parser cannot read (``%%`` is a literal ``%``).
PYFORMAT = re.compile(r"%%|%\(\w+\)s|%s")
#: A query with common table expressions: the parser leaves out the tables they read.
WITH_CLAUSE = re.compile(r"^\s*WITH\b", re.IGNORECASE)


def audience_dataset_name(advertiser_id: str, audience_id: str) -> str:
    """The OpenLineage name of one audience: ``advertisers/<advertiser>/audiences/<audience>``."""
    return f"advertisers/{advertiser_id}/audiences/{audience_id}"


def task_lineage(
    query: SegmentQuery,
    *,
    rows_read: int | None,
    advertiser_id: str | None,
    audience_ids: Sequence[str],
    facet: str,
    identifier_counts: Mapping[str, int],
) -> OperatorLineage | None:
    """The lineage of a task that read ``query`` and wrote ``audience_ids`` (none for a dry run).

    ``rows_read`` becomes the input's row count when the query reads one table; ``identifier_counts``
    (per identifier type) are each output's ``facet``. Inputs that cannot be worked out are left out,
    never the outputs.
    """
    try:
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    from airflow_provider_criteo.lineage.facets import audience_output, counted_inputs

    read = _query_lineage(query) or OperatorLineage()
    outputs = [
        audience_output(
            CRITEO_NAMESPACE, audience_dataset_name(advertiser_id, audience), facet, identifier_counts
        )
        for audience in audience_ids
        if advertiser_id
    ]
    single = query.table is not None or not WITH_CLAUSE.match(query.sql or "")
    return OperatorLineage(
        inputs=counted_inputs(read.inputs, rows_read if single else None),
        outputs=outputs,
        run_facets=read.run_facets,
        job_facets=read.job_facets,
    )


def _query_lineage(query: SegmentQuery) -> OperatorLineage | None:
    """The tables ``query`` reads, parsed from its SQL as common-sql's operators do; None when the
    database cannot be named or anything fails (logged).

    A hook that names its database for OpenLineage (PostgreSQL, Snowflake, ...) also gives the tables'
    schemas; SQLite's, which names nothing, is named from its file (``sqlite:///<absolute path>``,
    tables in schema ``main``).
    """
    try:
        return _parsed(query)
    except Exception:  # lineage must never lose the outputs, nor fail a task that succeeded
        log.warning(
            "OpenLineage: the tables of segment query on %r could not be named.", query.conn_id, exc_info=True
        )
        return None


def _parsed(query: SegmentQuery) -> OperatorLineage | None:
    """The lineage OpenLineage's SQL parser finds in ``query``."""
    from airflow.providers.openlineage.sqlparser import DatabaseInfo, SQLParser
    from airflow.providers.openlineage.utils.utils import should_use_external_connection

    hook = get_sql_hook(query.conn_id)
    connection = hook.get_connection(query.conn_id)
    sqlite = connection.conn_type == "sqlite"
    info = hook.get_openlineage_database_info(connection)
    if info is None and sqlite and connection.host:
        info = DatabaseInfo(scheme="sqlite", authority=os.path.abspath(connection.host))
    if info is None:
        return None
    use_connection = not sqlite and should_use_external_connection(hook)
    schema = "main" if sqlite else hook.get_openlineage_default_schema()
    parser = SQLParser(dialect=hook.get_openlineage_database_dialect(connection), default_schema=schema)
    sql = source_query(hook, query.sql, query.table, list(query.columns.values()))
    return parser.generate_openlineage_metadata_from_sql(
        sql=_parseable(sql) if query.parameters and not sqlite else sql,
        hook=hook,
        database_info=info,
        sqlalchemy_engine=hook.get_sqlalchemy_engine() if use_connection else None,
        use_connection=use_connection,
    )


def _parseable(sql: str) -> str:
    """``sql`` with NULL for each pyformat placeholder (the parser reads NULL; the tables are the same)."""
    return PYFORMAT.sub(lambda match: "%" if match.group() == "%%" else "NULL", sql)


def members_by_type(identifier_types: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """An export summary's distinct members per identifier type (all its forms together)."""
    return {
        name: sum(int(form.get("members", 0)) for form in counts.get("forms", {}).values())
        for name, counts in identifier_types.items()
    }
