"""The example DAGs parse and are wired as documented: asset schedule, forms, pool, no logical date."""

from __future__ import annotations

import re

import pytest
from airflow.sdk import Asset, AssetAll
from criteo_examples import CRITEO_POOL, SEGMENT_MEMBERS_URI, SEGMENT_NAMES

from airflow_provider_criteo.operators.segment_export import SYNC_MODES
from demo.dag_runs import example_dag, example_dag_bag

EXAMPLE_DAG_IDS = {
    "customer_profile_refresh",
    "criteo_segment_export",
    "criteo_audience_offboarding",
    "criteo_gdpr_erasure",
}
# Template variables that need a logical date: manual and asset-triggered runs have none.
LOGICAL_DATE_TEMPLATE = re.compile(
    r"\{\{[^}]*\b(ds|ds_nodash|ts|ts_nodash|logical_date|data_interval_start|data_interval_end|"
    r"prev_ds|next_ds|execution_date)\b"
)


def test_every_example_dag_imports_without_errors():
    bag = example_dag_bag()
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == EXAMPLE_DAG_IDS


@pytest.mark.parametrize("dag_id", sorted(EXAMPLE_DAG_IDS))
def test_no_template_needs_a_logical_date(dag_id):
    for task in example_dag(dag_id).tasks:
        for field in task.template_fields:
            value = getattr(task, field, None)
            assert not LOGICAL_DATE_TEMPLATE.search(str(value)), f"{dag_id}.{task.task_id}.{field}: {value}"


def test_every_refresh_schedules_an_export():
    refresh = example_dag("customer_profile_refresh")
    export = example_dag("criteo_segment_export")
    (last,) = refresh.leaves
    assert last.outlets == [Asset(SEGMENT_MEMBERS_URI)]
    assert export.timetable.asset_condition == AssetAll(Asset(SEGMENT_MEMBERS_URI))


def test_export_trigger_form_chooses_segments_sync_mode_and_dry_run():
    export = example_dag("criteo_segment_export")
    params = export.params
    segments = params.get_param("segments").schema
    assert params["segments"] == SEGMENT_NAMES  # an asset-triggered run exports every segment
    assert (segments["type"], segments["examples"], segments["items"]["enum"]) == (
        "array",
        SEGMENT_NAMES,
        SEGMENT_NAMES,
    )
    assert params.get_param("sync_mode").schema["enum"] == list(SYNC_MODES)
    assert params["sync_mode"] == "mirror"
    assert params["dry_run"] is False
    assert all(params.get_param(name).schema.get("title") for name in ("segments", "sync_mode", "dry_run"))
    assert export.render_template_as_native_obj is True


def test_calls_to_criteo_share_the_pool():
    for dag_id, task_id in (
        ("criteo_segment_export", "export_segment"),
        ("criteo_audience_offboarding", "offboard_audience"),
    ):
        assert example_dag(dag_id).get_task(task_id).pool == CRITEO_POOL


def test_offboarding_form_offers_the_segments():
    audiences = example_dag("criteo_audience_offboarding").params.get_param("audiences").schema
    assert (audiences["type"], audiences["examples"], audiences["minItems"]) == ("array", SEGMENT_NAMES, 1)
