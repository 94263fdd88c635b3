"""Records appended to tables in the user's warehouse: export history (to chart size and match rate
over time) and the erasure audit trail. Counts and digests only, never personal data in plain."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.segments.source import get_sql_hook, quote_name

if TYPE_CHECKING:
    from airflow.providers.common.sql.hooks.sql import DbApiHook

#: Columns of the history table, in order, with portable SQL types.
HISTORY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("exported_at", "VARCHAR(40)"),
    ("dag_id", "VARCHAR(250)"),
    ("run_id", "VARCHAR(250)"),
    ("task_id", "VARCHAR(250)"),
    ("segment", "VARCHAR(250)"),
    ("advertiser_id", "VARCHAR(40)"),
    ("audience_id", "VARCHAR(40)"),
    ("audience_name", "VARCHAR(250)"),
    ("sync_mode", "VARCHAR(20)"),
    ("dry_run", "INTEGER"),
    ("rows_read", "BIGINT"),
    ("valid", "BIGINT"),
    ("invalid", "BIGINT"),
    ("duplicates", "BIGINT"),
    ("added", "BIGINT"),
    ("removed", "BIGINT"),
    ("unchanged", "BIGINT"),
    ("audience_size", "BIGINT"),
    ("match_rate", "DOUBLE PRECISION"),
    ("drift", "BIGINT"),
)


#: Columns of the erasure audit table.
AUDIT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("erased_at", "VARCHAR(40)"),
    ("dag_id", "VARCHAR(250)"),
    ("run_id", "VARCHAR(250)"),
    ("task_id", "VARCHAR(250)"),
    ("advertiser_id", "VARCHAR(40)"),
    ("audience_ids", "TEXT"),
    ("audiences", "INTEGER"),
    ("identifiers", "BIGINT"),
    ("digests", "TEXT"),
)


def append_record(
    hook: DbApiHook, table: str, columns: tuple[tuple[str, str], ...], values: dict[str, Any]
) -> None:
    """Append one row to ``table`` (validated and quoted), creating it when missing.

    A table an earlier version created gains the columns added since (``ALTER TABLE ... ADD COLUMN``).
    """
    quoted = quote_name(hook, table)
    names = [quote_name(hook, name, max_parts=1) for name, _ in columns]
    definition = ", ".join(f"{name} {kind}" for name, (_, kind) in zip(names, columns, strict=True))
    hook.run(f"CREATE TABLE IF NOT EXISTS {quoted} ({definition})")
    existing = {
        str(name).casefold()
        for name in hook.run(f"SELECT * FROM {quoted} WHERE 1 = 0", handler=_column_names) or ()
    }
    for name, (column, kind) in zip(names, columns, strict=True):
        if column.casefold() not in existing:
            hook.run(f"ALTER TABLE {quoted} ADD COLUMN {name} {kind}")
    hook.insert_rows(quoted, [tuple(values.get(name) for name, _ in columns)], target_fields=names)


def _column_names(cursor: Any) -> list[str]:
    """The names of a query's columns."""
    return [description[0] for description in cursor.description or ()]


def now() -> str:
    """The current UTC time, ISO-8601."""
    return datetime.datetime.now(datetime.UTC).isoformat()


def append_history(conn_id: str, table: str, summary: dict[str, Any], run: dict[str, str]) -> None:
    """Append one export summary (counts only, no personal data) to ``table`` of connection ``conn_id``."""
    values = {**summary, **run, "exported_at": now(), "dry_run": int(bool(summary.get("dry_run")))}
    append_record(get_sql_hook(conn_id), table, HISTORY_COLUMNS, values)


def append_audit(conn_id: str, table: str, record: dict[str, Any]) -> None:
    """Append one erasure's audit record (digests, never an identifier in plain), stamped ``erased_at``."""
    append_record(get_sql_hook(conn_id), table, AUDIT_COLUMNS, {**record, "erased_at": now()})
