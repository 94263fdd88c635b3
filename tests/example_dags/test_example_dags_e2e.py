"""End to end with ``dag.test()``: profile refresh, then export to the emulator, then the privacy exit."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING, Any

import pytest
from criteo_examples import HISTORY_TABLE, SEGMENT_NAMES

from airflow_provider_criteo.ui.chart import as_fraction
from demo.chart import write_history_chart
from demo.dag_runs import DagRunFailed, run_dag, task_results
from tests.helpers import held_audiences

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_criteo.sandbox import CriteoSandbox
    from tests.example_dags.conftest import DemoWarehouse

pytestmark = pytest.mark.usefixtures("example_airflow", "criteo_conn")


def refresh_and_export(conf: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Run a profile refresh, then an export; return the run's summaries by segment."""
    run_dag("customer_profile_refresh")
    export = run_dag("criteo_segment_export", conf)
    (rows,) = task_results(export, "log_run_summary")
    return {row["segment"]: row for row in rows}


def test_each_audience_holds_exactly_its_segment(
    demo_warehouse: DemoWarehouse, criteo_sandbox: CriteoSandbox
):
    summaries = refresh_and_export()

    expected = demo_warehouse.expected_audiences()
    assert set(expected) == set(SEGMENT_NAMES)
    assert held_audiences(criteo_sandbox) == expected
    rows = dict(demo_warehouse.query("SELECT segment, COUNT(*) FROM segment_members GROUP BY segment"))
    for name, summary in summaries.items():
        assert summary["rows_read"] == rows[name]
        assert set(summary["identifier_types"]) == {"email", "phoneNumber", "madid"}
        for counts in summary["identifier_types"].values():
            assert summary["rows_read"] == counts["valid"] + counts["invalid"]
            assert counts["added"] > 0
        assert summary["added"] == summary["audience_size"] == len(expected[name])
        assert summary["removed"] == 0
    # A segment of a few dozen profiles may have none; the messy CRM data gives the others some.
    assert sum(summary["rows_without_identifier"] > 0 for summary in summaries.values()) >= 5
    assert sum(summary["duplicates"] for summary in summaries.values()) > 0


def test_each_export_appends_its_summary_to_the_history_table(
    demo_warehouse: DemoWarehouse, criteo_sandbox: CriteoSandbox, tmp_path: Path
):
    first = refresh_and_export()
    second = refresh_and_export()

    history = demo_warehouse.query(
        f"SELECT segment, audience_size, match_rate, added FROM {HISTORY_TABLE} ORDER BY exported_at"
    )
    assert sorted(history) == sorted(
        (name, run[name]["audience_size"], run[name]["match_rate"], run[name]["added"])
        for run in (first, second)
        for name in SEGMENT_NAMES
    )
    chart = tmp_path / "history.svg"
    assert write_history_chart(demo_warehouse.path, HISTORY_TABLE, chart) == 2 * len(SEGMENT_NAMES)
    assert chart.read_text().count("<polyline") == 2 * len(SEGMENT_NAMES)  # size and match rate


def test_the_next_refresh_is_exported_as_its_changes(
    demo_warehouse: DemoWarehouse, criteo_sandbox: CriteoSandbox
):
    refresh_and_export()
    before = held_audiences(criteo_sandbox)

    summaries = refresh_and_export()

    after = demo_warehouse.expected_audiences()
    assert held_audiences(criteo_sandbox) == after
    for name, summary in summaries.items():
        assert summary["added"] == len(after[name] - before[name])
        assert summary["removed"] == len(before[name] - after[name])
        assert summary["unchanged"] == len(after[name] & before[name])
    assert sum(summary["added"] + summary["removed"] for summary in summaries.values()) > 0


def test_a_dry_run_sends_nothing(demo_warehouse: DemoWarehouse, criteo_sandbox: CriteoSandbox):
    summaries = refresh_and_export({"segments": ["vip_buyers"], "dry_run": True})

    assert list(summaries) == ["vip_buyers"]
    assert summaries["vip_buyers"]["dry_run"] is True
    assert summaries["vip_buyers"]["added"] == len(demo_warehouse.expected_audiences()["vip_buyers"])
    assert criteo_sandbox.segments() == []


def test_offboarding_leaves_no_audience_no_member_and_no_snapshot(
    demo_warehouse: DemoWarehouse, criteo_sandbox: CriteoSandbox, snapshot_location: Path
):
    refresh_and_export()
    exported = {s["id"] for s in criteo_sandbox.segments()}
    assert any(path.is_file() for path in snapshot_location.rglob("*"))

    offboarding = run_dag("criteo_audience_offboarding", {"audiences": [*SEGMENT_NAMES, "never_exported"]})

    assert criteo_sandbox.segments() == []
    assert not any(path.is_file() for path in snapshot_location.rglob("*"))
    wiped = {
        r.path.split("/")[-2] for r in criteo_sandbox.requests if r.method == "DELETE" and r.status == 200
    }
    assert wiped == exported
    results = {r["audience_name"]: r["deleted"] for r in task_results(offboarding, "offboard_audience")}
    assert results == {**dict.fromkeys(SEGMENT_NAMES, True), "never_exported": False}


def test_offboarding_refuses_a_read_only_list_before_changing_anything(
    demo_warehouse: DemoWarehouse, criteo_sandbox: CriteoSandbox, snapshot_location: Path
):
    refresh_and_export()
    (vip,) = [s for s in criteo_sandbox.segments() if s["attributes"]["name"] == "vip_buyers"]
    members = criteo_sandbox.members(vip["id"])
    criteo_sandbox.set_read_only(vip["id"])
    criteo_sandbox.clear_requests()
    with pytest.raises(DagRunFailed, match="offboard_audience"):
        run_dag("criteo_audience_offboarding", {"audiences": ["vip_buyers"]})
    assert criteo_sandbox.members(vip["id"]) == members
    assert not [r for r in criteo_sandbox.requests if r.method in ("DELETE", "PATCH") or "delete" in r.path]
    assert list(snapshot_location.rglob(f"audience={vip['id']}/*/v*.snap"))  # its snapshots are kept


def test_gdpr_erasure_forgets_a_person_everywhere_and_audits_it(
    demo_warehouse: DemoWarehouse, criteo_sandbox: CriteoSandbox
):
    refresh_and_export()
    audience = criteo_sandbox.segments()[0]["id"]
    member = next(iter(criteo_sandbox.members(audience, "email")))  # a hashed address some audience holds
    with closing(sqlite3.connect(demo_warehouse.path)) as db:
        db.execute("INSERT INTO erasure_requests (email) VALUES (?)", (member,))
        db.commit()

    run_dag("criteo_gdpr_erasure")

    assert all(member not in held for held in held_audiences(criteo_sandbox).values())
    ((digests, count),) = demo_warehouse.query("SELECT digests, audiences FROM erasure_audit")
    assert member in digests
    assert count == len(SEGMENT_NAMES)


@pytest.mark.parametrize(("match_rate", "fraction"), [(1.0, 1.0), (0.42, 0.42), (42.0, 0.42), (100.0, 1.0)])
def test_the_chart_reads_criteo_s_match_rate_on_either_scale(match_rate, fraction):
    assert as_fraction(match_rate) == pytest.approx(fraction)
