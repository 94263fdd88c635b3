from __future__ import annotations

import hashlib
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from airflow.models.xcom import XComModel
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState, TaskInstanceState

DAG_FILE = Path(__file__).parents[1] / "dags" / "criteo_export_e2e.py"
ROWS = [
    ("vip", "Alice@Example.com"),
    ("vip", "bob@example.org"),
    ("vip", "bad"),
    ("churn", "carol@example.net"),
]


def sha(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated Airflow metadata database in the session's AIRFLOW_HOME (SQLite)."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


@pytest.fixture
def e2e_dag(airflow_db):
    spec = importlib.util.spec_from_file_location("criteo_export_e2e", DAG_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


def summaries(run) -> dict[str, dict]:
    """The XCom summaries of the run's export tasks, by segment."""
    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id, task_ids="export"))
        values = [XComModel.deserialize_value(row) for row in rows]
    return {value["segment"]: value for value in values}


def audience(sandbox, name):
    (segment,) = [s for s in sandbox.segments() if s["attributes"]["name"] == name]
    return sandbox.members(segment["id"])


def test_mapped_export_of_two_segments(e2e_dag, warehouse, criteo_conn, criteo_sandbox):
    warehouse.load(ROWS)
    run = e2e_dag.test(run_conf={"segments": ["vip", "churn"], "sql": warehouse.segment_sql})
    assert run.state == DagRunState.SUCCESS
    exports = [ti for ti in run.get_task_instances() if ti.task_id == "export"]
    assert sorted(ti.map_index for ti in exports) == [0, 1]
    assert {ti.state for ti in exports} == {TaskInstanceState.SUCCESS}
    assert audience(criteo_sandbox, "vip") == {sha("alice@example.com"), sha("bob@example.org")}
    assert audience(criteo_sandbox, "churn") == {sha("carol@example.net")}
    by_segment = summaries(run)
    assert (by_segment["vip"]["rows_read"], by_segment["vip"]["added"], by_segment["vip"]["invalid"]) == (
        3,
        2,
        1,
    )
    assert (by_segment["churn"]["rows_read"], by_segment["churn"]["added"]) == (1, 1)


def test_dry_run_from_the_trigger_form(e2e_dag, sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.load(ROWS)
    run = e2e_dag.test(run_conf={"segments": ["vip"], "dry_run": True})
    assert run.state == DagRunState.SUCCESS
    assert criteo_sandbox.segments() == []
    assert summaries(run)["vip"]["dry_run"] is True
