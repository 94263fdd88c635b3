from __future__ import annotations

from contextlib import closing
from types import SimpleNamespace

from airflow_provider_criteo.operators.segment_export import SegmentExportOperator
from airflow_provider_criteo.workflows.history import HISTORY_COLUMNS


def test_each_run_appends_its_summary(warehouse, criteo_conn):
    warehouse.load([("vip", "alice@example.com"), ("vip", "bob@example.com"), ("vip", "nope")])
    table = f"{warehouse.table}_history"
    ti = SimpleNamespace(dag_id="crm", run_id="manual__1", task_id="export", map_index=-1, xcom_push=dict)
    for _ in range(2):
        SegmentExportOperator(
            task_id="export",
            segment="vip",
            sql_conn_id=warehouse.conn_id,
            sql=warehouse.segment_sql,
            parameters={"segment": "vip"},
            history_table=table,
        ).execute(context={"ti": ti})
    with closing(warehouse.connect()) as db:
        cursor = db.cursor()
        cursor.execute(f"SELECT * FROM {table} ORDER BY exported_at")
        rows = [
            dict(zip([name for name, _ in HISTORY_COLUMNS], row, strict=True)) for row in cursor.fetchall()
        ]
        cursor.execute(f"DROP TABLE {table}")
        db.commit()
    assert len(rows) == 2
    first, second = rows
    assert (first["dag_id"], first["run_id"], first["segment"], first["sync_mode"]) == (
        "crm",
        "manual__1",
        "vip",
        "mirror",
    )
    assert (first["rows_read"], first["valid"], first["invalid"], first["added"]) == (3, 2, 1, 2)
    assert (second["added"], second["unchanged"], second["audience_size"], second["match_rate"]) == (
        0,
        2,
        2,
        1.0,
    )
    assert "@" not in repr(rows)
