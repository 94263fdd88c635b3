"""The exports the Criteo view reads from Airflow's metadata database, after real runs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow.utils.session import create_session

from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID
from airflow_provider_criteo.ui.exports import Export, audiences_of, exported_dags, read_exports

if TYPE_CHECKING:
    from tests.ui.conftest import ExportRuns


def exports_of(taken: ExportRuns, dag_ids: set[str], **options) -> list[Export]:
    with create_session() as session:
        exports = read_exports(session, dag_ids, **options)
    return [e for e in exports if e.run_id in (taken.exported, taken.failed)]


def test_each_export_is_read_with_its_audience_state_and_summary(export_runs: ExportRuns):
    exports = {(e.run_id, e.audience_name): e for e in exports_of(export_runs, {export_runs.dag_id})}
    assert set(exports) == {
        (export_runs.exported, "vip"),
        (export_runs.exported, "churn"),
        (export_runs.exported, "eu/vip"),
        (export_runs.failed, "vip"),
    }
    vip = exports[(export_runs.exported, "vip")]
    assert (vip.state, vip.advertiser_id, vip.dry_run, vip.task_id, vip.map_index) == (
        "success",
        DEFAULT_ADVERTISER_ID,
        False,
        "export",
        0,
    )
    assert (vip.get("audience_id"), vip.get("added"), vip.get("rows_read")) == (
        export_runs.audience_ids["vip"],
        2,
        2,
    )
    failed = exports[(export_runs.failed, "vip")]
    assert (failed.state, failed.summary) == ("failed", None)  # listed though it returned nothing


def test_exports_are_grouped_by_audience_newest_first(export_runs: ExportRuns):
    audiences = audiences_of(exports_of(export_runs, {export_runs.dag_id}))
    assert [(a.advertiser_id, a.name) for a in audiences] == [
        (DEFAULT_ADVERTISER_ID, "churn"),
        (DEFAULT_ADVERTISER_ID, "eu/vip"),
        (DEFAULT_ADVERTISER_ID, "vip"),
    ]
    vip = audiences[2]
    assert [e.run_id for e in vip.exports] == [export_runs.failed, export_runs.exported]
    assert vip.last.state == "failed"
    assert vip.audience_id == export_runs.audience_ids["vip"]  # from the export that has one
    series = vip.series()
    assert (series.sizes, series.match_rates) == ([2], [1.0])  # the failed try sent nothing
    assert series.times == [vip.exports[1].when]


def test_each_export_task_keeps_its_last_tries_however_often_the_others_run(export_runs: ExportRuns):
    latest = exports_of(export_runs, {export_runs.dag_id}, runs=1)
    assert sorted((e.run_id == export_runs.failed, e.map_index) for e in latest) == [
        (False, 1),  # churn and eu/vip ran last in the exporting run
        (False, 2),
        (True, 0),  # vip's slot ran last in the failed run
    ]


def test_one_task_instance_is_read_by_its_key(export_runs: ExportRuns):
    key = (export_runs.dag_id, export_runs.exported, "export", 2)
    (export,) = exports_of(export_runs, {export_runs.dag_id}, task=key)
    assert export.audience_name == "eu/vip"


def test_only_the_dags_asked_for_are_read(export_runs: ExportRuns):
    assert export_runs.dag_id in {dag_id for dag_id in exported_dags_now()}
    assert exports_of(export_runs, {"another_dag"}) == []
    assert exports_of(export_runs, set()) == []


def exported_dags_now() -> set[str]:
    with create_session() as session:
        return exported_dags(session)
