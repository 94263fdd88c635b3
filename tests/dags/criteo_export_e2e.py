"""A DAG the end-to-end tests run with ``dag.test()``: one mapped export task per segment."""

from __future__ import annotations

from airflow.sdk import DAG, Param, task

from airflow_provider_criteo.operators.segment_export import SegmentExportOperator

with DAG(
    dag_id="criteo_export_e2e",
    schedule=None,
    render_template_as_native_obj=True,
    params={
        "segments": Param(["vip"], type="array"),
        "sql": Param("SELECT email FROM segment_members WHERE segment = :segment", type="string"),
        "sync_mode": Param("add_only", enum=["mirror", "add_only", "replace"]),
        "dry_run": Param(False, type="boolean"),
    },
) as dag:

    @task
    def chosen_segments(params: dict) -> list[str]:
        return params["segments"]

    SegmentExportOperator.partial(
        task_id="export",
        sql_conn_id="warehouse",
        sql="{{ params.sql }}",
        parameters={"segment": "{{ task.segment }}"},
        sync_mode="{{ params.sync_mode }}",
        dry_run="{{ params.dry_run }}",
    ).expand(segment=chosen_segments())
