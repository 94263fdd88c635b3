"""The exports the Criteo view reads from Airflow's metadata database, after real runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.utils.session import create_session

from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID
from airflow_provider_criteo.ui.exports import audiences_of, read_exports

if TYPE_CHECKING:
    from airflow_provider_criteo.sandbox import CriteoSandbox
    from tests.ui.conftest import ExportRuns


def exports_of(runs: ExportRuns, dag_ids: set[str]) -> list:
    with create_session() as session:
        return [e for e in read_exports(session, dag_ids) if e.run_id in (runs.exported, runs.failed)]


def test_each_export_is_read_with_its_audience_state_and_summary(
    export_runs: ExportRuns, criteo_sandbox: CriteoSandbox
):
    exports = {(e.run_id, e.audience_name): e for e in exports_of(export_runs, {export_runs.dag_id})}
    assert set(exports) == {
        (export_runs.exported, "vip"),
        (export_runs.exported, "churn"),
        (export_runs.failed, "vip"),
    }
    ids = {s["attributes"]["name"]: s["id"] for s in criteo_sandbox.segments()}
    vip = exports[(export_runs.exported, "vip")]
    assert (vip.state, vip.advertiser_id, vip.dry_run, vip.task_id) == (
        "success",
        DEFAULT_ADVERTISER_ID,
        False,
        "export",
    )
    assert (vip.get("audience_id"), vip.get("added"), vip.get("rows_read")) == (ids["vip"], 2, 2)
    failed = exports[(export_runs.failed, "vip")]
    assert (failed.state, failed.summary) == ("failed", None)  # listed though it returned nothing


def test_exports_are_grouped_by_audience_newest_first(export_runs: ExportRuns):
    audiences = audiences_of(exports_of(export_runs, {export_runs.dag_id}))
    assert [(a.advertiser_id, a.name) for a in audiences] == [
        (DEFAULT_ADVERTISER_ID, "churn"),
        (DEFAULT_ADVERTISER_ID, "vip"),
    ]
    vip = audiences[1]
    assert [e.run_id for e in vip.exports] == [export_runs.failed, export_runs.exported]
    assert vip.last.state == "failed"
    assert vip.audience_id == vip.exports[1].get("audience_id")  # the failed try knows none
    series = vip.series()
    assert (series.sizes, len(series.times or [])) == ([vip.exports[1].get("audience_size")], 1)


def test_only_the_dags_asked_for_are_read(export_runs: ExportRuns):
    assert exports_of(export_runs, {"another_dag"}) == []
    assert exports_of(export_runs, set()) == []
