"""The example DAGs on a distributed Airflow: CeleryExecutor, Redis, PostgreSQL, two workers.

Every segment's export is a task that either worker may take; they share Criteo's rate limit (scaled
down here, so that the exports must wait for it) and one snapshot location. The tests run in file
order on one deployment: a first export of every segment, then a worker killed in the middle of the
next one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from criteo_examples import SEGMENT_NAMES

from demo.airflow_server import wait_until
from demo.distributed import WORKERS
from tests.deployment.conftest import LOST_AFTER_SECONDS, RATE_LIMIT
from tests.helpers import demo_audiences, held_audiences

if TYPE_CHECKING:
    from airflow_provider_criteo.sandbox import CriteoSandbox
    from airflow_provider_criteo.sandbox.journal import RecordedRequest
    from demo.airflow_server import AirflowServer

REFRESH = "customer_profile_refresh"
EXPORT = "criteo_segment_export"
RUN_TIMEOUT = 600.0
RATE_WINDOW = 60.0


def finished_runs(server: AirflowServer, dag_id: str) -> list[dict[str, Any]]:
    """The finished runs of a DAG, oldest first."""
    return [run for run in server.dag_runs(dag_id) if run["state"] in ("success", "failed")]


def next_export(server: AirflowServer, *, trigger_refresh: bool = True) -> dict[str, Any]:
    """Wait for the export that the next profile refresh schedules (through its asset); return it."""
    exports = len(finished_runs(server, EXPORT))
    if trigger_refresh:
        server.api("POST", f"/dags/{REFRESH}/dagRuns", json={"logical_date": None})
    return wait_until(
        lambda: finished_runs(server, EXPORT)[exports:],
        RUN_TIMEOUT,
        "the export the profile refresh schedules",
        interval=2.0,
    )[0]


def exports_of(server: AirflowServer, run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The export task instances of a run, by segment (their rendered map index)."""
    path = f"/dags/{EXPORT}/dagRuns/{run['dag_run_id']}/taskInstances"
    instances = server.api("GET", path, params={"task_id": "export_segment"}).json()["task_instances"]
    return {ti["rendered_map_index"]: ti for ti in instances}


def busiest_window(calls: list[RecordedRequest]) -> int:
    """The most calls that reached Criteo within any rolling minute (refused ones included)."""
    stamps = sorted(call.timestamp for call in calls)
    first = 0
    most = 0
    for last, stamp in enumerate(stamps):
        while stamp - stamps[first] >= RATE_WINDOW:
            first += 1
        most = max(most, last - first + 1)
    return most


def test_every_segment_is_exported_across_both_workers_inside_one_rate_budget(
    celery_airflow: AirflowServer, criteo: CriteoSandbox
):
    # Un-pausing the profile refresh (at the deployment's start) ran it once; its asset scheduled this.
    run = next_export(celery_airflow, trigger_refresh=False)

    assert run["state"] == "success", celery_airflow.logs()
    assert len(SEGMENT_NAMES) >= 6
    assert held_audiences(criteo) == demo_audiences(celery_airflow.warehouse)
    tasks = exports_of(celery_airflow, run)
    assert set(tasks) == set(SEGMENT_NAMES)
    assert {ti["hostname"] for ti in tasks.values()} == set(WORKERS)
    # The run had to wait for Criteo's window: more calls than one minute allows, and none refused.
    calls = [call for call in criteo.requests if call.client_id is not None]
    assert len(calls) > RATE_LIMIT
    assert max(call.timestamp for call in calls) - min(call.timestamp for call in calls) > RATE_WINDOW
    assert [call.path for call in calls if call.status == 429] == []
    assert busiest_window(calls) <= RATE_LIMIT
    # Every audience's mirror state is in the one shared location, none under a worker's own folders.
    shared = celery_airflow.home / "shared" / "snapshots"
    assert {path.name for path in shared.rglob("*") if path.is_file()}
    for worker in WORKERS:
        assert not [path for path in (celery_airflow.home / worker).rglob("*") if path.is_file()]
    assert not (celery_airflow.home / "criteo").exists()


def test_a_worker_killed_in_the_middle_of_an_export_is_healed_by_the_retry_on_the_other(
    celery_airflow: AirflowServer, criteo: CriteoSandbox
):
    audiences = {s["attributes"]["name"]: s["id"] for s in criteo.segments()}
    if set(audiences) != set(SEGMENT_NAMES):  # the first test did not export them
        next_export(celery_airflow)
        audiences = {s["attributes"]["name"]: s["id"] for s in criteo.segments()}
    victim = "newsletter_subscribers"
    amendments = f"{audiences[victim]}/contact-list"
    # Criteo applies the victim's next amendment, then takes a long time to answer it.
    criteo.inject_fault(path=amendments, method="PATCH", delay=4 * LOST_AFTER_SECONDS)
    applied = len([call for call in criteo.requests if call.path.endswith(amendments)])
    exports = len(finished_runs(celery_airflow, EXPORT))
    celery_airflow.api("POST", f"/dags/{REFRESH}/dagRuns", json={"logical_date": None})

    wait_until(
        lambda: len([call for call in criteo.requests if call.path.endswith(amendments)]) > applied,
        RUN_TIMEOUT,
        f"an amendment of {victim} to reach Criteo",
    )
    export_run = wait_until(lambda: celery_airflow.dag_runs(EXPORT)[exports:], 30, "the export run")[0]
    killed = exports_of(celery_airflow, export_run)[victim]
    assert killed["state"] == "running"
    celery_airflow.kill(killed["hostname"])

    run = next_export(celery_airflow, trigger_refresh=False)
    assert run["dag_run_id"] == export_run["dag_run_id"]
    assert run["state"] == "success", celery_airflow.logs()
    retried = exports_of(celery_airflow, run)[victim]
    assert retried["try_number"] >= 2
    assert retried["hostname"] != killed["hostname"]
    assert held_audiences(criteo) == demo_audiences(celery_airflow.warehouse)
