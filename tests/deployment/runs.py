"""The example DAGs' runs as the distributed tests drive them through the REST API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from demo.airflow_server import AirflowServer

REFRESH = "customer_profile_refresh"
EXPORT = "criteo_segment_export"
RUN_TIMEOUT = 600.0


def export_runs(server: AirflowServer) -> list[dict[str, Any]]:
    """Every run of the export DAG, oldest first."""
    return server.dag_runs(EXPORT)


def next_export(server: AirflowServer, *, before: int) -> dict[str, Any]:
    """Wait for the export run after the first ``before`` ones to finish; return it."""
    return server.wait_for_run(EXPORT, RUN_TIMEOUT, after=before)


def refresh(server: AirflowServer) -> int:
    """Trigger a profile refresh, whose asset schedules an export; return how many exports ran before."""
    before = len(export_runs(server))
    server.api("POST", f"/dags/{REFRESH}/dagRuns", json={"logical_date": None})
    return before


def exports_of(server: AirflowServer, run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The export task instances of a run, by segment (their rendered map index)."""
    path = f"/dags/{EXPORT}/dagRuns/{run['dag_run_id']}/taskInstances"
    instances = server.api("GET", path, params={"task_id": "export_segment"}).json()["task_instances"]
    return {ti["rendered_map_index"]: ti for ti in instances}
