"""OpenLineage: what the operators report, read from the events OpenLineage's own file transport wrote in
a real run, and from the operators' lineage on both warehouses."""

from __future__ import annotations

import json
import sqlite3
import sys
from contextlib import closing
from typing import TYPE_CHECKING, Any

import pytest
from criteo_examples import SEGMENT_NAMES
from openlineage.client.serde import Serde

from airflow_provider_criteo.exceptions import CriteoApiError
from airflow_provider_criteo.lineage.datasets import CRITEO_NAMESPACE
from airflow_provider_criteo.operators.erase import CriteoEraseOperator
from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID, DEFAULT_CLIENT_SECRET
from tests.helpers import run_demo, segment_export, sha

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_criteo.sandbox import CriteoSandbox
    from tests.warehouse import Warehouse

CUSTOMERS = 600
PEOPLE = [f"person{i}@example.com" for i in range(5)]


@pytest.fixture
def lineage_run(tmp_path: Path, criteo_sandbox: CriteoSandbox) -> tuple[list[dict[str, Any]], Path]:
    """The example export run for real (``airflow dags test``) with OpenLineage's file transport: every
    event it emitted, and the warehouse."""
    events = tmp_path / "lineage.jsonl"
    transport = {"type": "file", "log_file_path": str(events), "append": True}
    airflow = [sys.executable, "-m", "airflow"]
    warehouse = run_demo(
        airflow, tmp_path, criteo_sandbox, CUSTOMERS, AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(transport)
    )
    return [json.loads(line) for line in events.read_text().splitlines()], warehouse


def completed(events: list[dict[str, Any]], task_id: str) -> list[dict[str, Any]]:
    """The COMPLETE events of a task's instances."""
    return [e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"].endswith(f".{task_id}")]


def test_each_export_reports_the_table_it_read_and_the_audience_it_wrote(
    lineage_run: tuple[list[dict[str, Any]], Path], criteo_sandbox: CriteoSandbox
):
    events, warehouse = lineage_run
    audiences = {s["id"]: s["attributes"]["name"] for s in criteo_sandbox.segments()}
    exports = completed(events, "export_segment")
    assert len(exports) == len(SEGMENT_NAMES)
    reported = {}
    for event in exports:
        ((table,), (audience,)) = event["inputs"], event["outputs"]
        assert (table["namespace"], table["name"]) == (f"sqlite://{warehouse}", "main.segment_members")
        assert audience["namespace"] == CRITEO_NAMESPACE
        advertisers, advertiser, kind, audience_id = audience["name"].split("/")
        assert (advertisers, advertiser, kind) == ("advertisers", DEFAULT_ADVERTISER_ID, "audiences")
        counts = audience["facets"]["criteoAudience"]["identifierTypes"]
        assert counts == {
            kind: len(criteo_sandbox.members(audience_id, kind)) for kind in ("email", "phoneNumber", "madid")
        }
        reported[audiences[audience_id]] = table["inputFacets"]["inputStatistics"]["rowCount"]
    with closing(sqlite3.connect(warehouse)) as db:
        rows = dict(db.execute("SELECT segment, COUNT(*) FROM segment_members GROUP BY segment").fetchall())
    assert reported == rows


def test_lineage_events_hold_nothing_read_from_the_warehouse_and_no_secret(
    lineage_run: tuple[list[dict[str, Any]], Path], criteo_sandbox: CriteoSandbox
):
    events, warehouse = lineage_run
    text = "\n".join(json.dumps(event) for event in events).lower()
    held = {member for s in criteo_sandbox.segments() for member in criteo_sandbox.members(s["id"])}
    with closing(sqlite3.connect(warehouse)) as db:
        rows = db.execute("SELECT email, phone, mobile_ad_id FROM segment_members").fetchall()
    raw = {value.strip().lower() for row in rows for value in row if value and len(value.strip()) > 5}
    assert held
    assert raw
    assert not [value for value in held | raw if value in text]
    assert "@" not in text
    assert DEFAULT_CLIENT_SECRET.lower() not in text


def test_a_postgres_table_is_named_as_openlineage_names_postgres(postgres_warehouse: Warehouse, criteo_conn):
    postgres_warehouse.load([("vip", address) for address in PEOPLE])
    export = segment_export(postgres_warehouse, min_audience_size=1)
    export.execute(context={})

    lineage = export.get_openlineage_facets_on_complete(None)
    (table,) = lineage.inputs
    assert (table.namespace, table.name) == (
        "postgres://127.0.0.1:5432",
        f"test.public.{postgres_warehouse.table}",
    )
    assert [field.name for field in table.facets["schema"].fields] == ["segment", "email"]
    assert table.inputFacets["inputStatistics"].rowCount == len(PEOPLE)
    (audience,) = lineage.outputs
    assert audience.facets["criteoAudience"].identifierTypes == {"email": len(PEOPLE)}


def test_a_dry_run_reports_what_it_read_and_no_audience(sqlite_warehouse: Warehouse, criteo_conn):
    sqlite_warehouse.load([("vip", address) for address in PEOPLE])
    export = segment_export(sqlite_warehouse, min_audience_size=1, dry_run=True)
    export.execute(context={})

    lineage = export.get_openlineage_facets_on_complete(None)
    assert [table.name for table in lineage.inputs] == ["main.segment_members"]
    assert lineage.outputs == []


def test_an_erasure_reports_the_requests_it_read_and_the_audiences_it_changed(
    sqlite_warehouse: Warehouse, criteo_conn, criteo_sandbox: CriteoSandbox
):
    sqlite_warehouse.load([("vip", address) for address in PEOPLE])
    segment_export(sqlite_warehouse, min_audience_size=1).execute(context={})
    sqlite_warehouse.execute("CREATE TABLE erasure_requests (email TEXT)")
    sqlite_warehouse.execute(f"INSERT INTO erasure_requests VALUES ('{PEOPLE[0]}')")
    erasure = CriteoEraseOperator(
        task_id="erase",
        sql_conn_id=sqlite_warehouse.conn_id,
        table="erasure_requests",
        audit_table="erasure_audit",
    )
    erasure.execute(context={})

    lineage = erasure.get_openlineage_facets_on_complete(None)
    assert [table.name for table in lineage.inputs] == ["main.erasure_requests"]
    (audience,) = criteo_sandbox.segments()
    assert [(d.namespace, d.name) for d in lineage.outputs] == [
        (CRITEO_NAMESPACE, f"advertisers/{DEFAULT_ADVERTISER_ID}/audiences/{audience['id']}")
    ]
    assert lineage.outputs[0].facets["criteoErasure"].identifierTypes == {"email": 1}
    reported = " ".join(
        Serde.to_json(part) for part in [*lineage.inputs, *lineage.outputs, *lineage.job_facets.values()]
    )
    assert sha(PEOPLE[0]) not in reported
    assert PEOPLE[0] not in reported


def test_a_warehouse_that_cannot_be_named_still_leaves_the_audience_written(
    sqlite_warehouse: Warehouse, criteo_conn, monkeypatch: pytest.MonkeyPatch
):
    sqlite_warehouse.load([("vip", address) for address in PEOPLE])
    export = segment_export(sqlite_warehouse, min_audience_size=1)
    export.execute(context={})
    # By the time lineage is extracted, the connection is one no SQL hook serves.
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "http", "host": "example.com"}))

    lineage = export.get_openlineage_facets_on_complete(None)
    assert lineage.inputs == []
    assert [d.namespace for d in lineage.outputs] == [CRITEO_NAMESPACE]


def test_a_failed_export_reports_what_it_read_and_the_audience_it_may_have_changed(
    sqlite_warehouse: Warehouse, criteo_conn, criteo_sandbox: CriteoSandbox
):
    sqlite_warehouse.load([("vip", address) for address in PEOPLE])
    criteo_sandbox.inject_fault(path="contact-list", method="PATCH", status=403)  # after the audience exists
    export = segment_export(sqlite_warehouse, min_audience_size=1)
    with pytest.raises(CriteoApiError):
        export.execute(context={})

    lineage = export.get_openlineage_facets_on_failure(None)
    assert [table.name for table in lineage.inputs] == ["main.segment_members"]
    (segment,) = criteo_sandbox.segments()
    (audience,) = lineage.outputs
    assert (audience.namespace, audience.name) == (
        CRITEO_NAMESPACE,
        f"advertisers/{DEFAULT_ADVERTISER_ID}/audiences/{segment['id']}",
    )
    assert audience.facets["criteoAudience"].identifierTypes == {}  # no counts of a failed export


def test_an_export_that_failed_before_its_audience_reports_only_what_it_read(
    sqlite_warehouse: Warehouse, criteo_conn, criteo_sandbox: CriteoSandbox
):
    sqlite_warehouse.load([("vip", address) for address in PEOPLE])
    criteo_sandbox.inject_fault(path="audience-segments/search", status=403)
    export = segment_export(sqlite_warehouse, min_audience_size=1)
    with pytest.raises(CriteoApiError):
        export.execute(context={})

    lineage = export.get_openlineage_facets_on_failure(None)
    assert [table.name for table in lineage.inputs] == ["main.segment_members"]
    assert lineage.outputs == []
