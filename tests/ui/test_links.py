"""What an export task leaves for the Criteo view: its extra link, and the record of its audience."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

from airflow_provider_criteo.operators.segment_export import SegmentExportOperator
from airflow_provider_criteo.ui.links import CriteoExportLink, record_export

if TYPE_CHECKING:
    import pytest

KEY = SimpleNamespace(
    dag_id="exports", run_id="manual__2026-12-06T21:43:53+00:00", task_id="export", map_index=3
)


def test_the_export_operator_carries_the_link():
    assert [link.name for link in SegmentExportOperator.operator_extra_links] == ["Criteo audience"]


def test_the_link_is_under_the_api_servers_base_url(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.example.com/team-a/")
    link = CriteoExportLink().get_link(None, ti_key=KEY)  # type: ignore[arg-type]
    assert link == (
        "https://airflow.example.com/team-a/criteo/exports/exports/"
        "manual__2026-12-06T21%3A43%3A53%2B00%3A00/export/3"
    )


def test_without_a_base_url_the_link_is_a_path(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)
    assert CriteoExportLink().get_link(None, ti_key=KEY).startswith("/criteo/exports/exports/")  # type: ignore[arg-type]


def test_the_record_goes_to_the_task_instance_and_nowhere_without_one():
    pushed = []
    ti = SimpleNamespace(xcom_push=lambda **kwargs: pushed.append(kwargs))
    record_export({"ti": ti}, advertiser_id="12345", audience_name="vip")  # type: ignore[typeddict-item]
    assert pushed == [{"key": "criteo_export", "value": {"advertiser_id": "12345", "audience_name": "vip"}}]
    record_export({}, advertiser_id="12345", audience_name="vip")  # type: ignore[typeddict-item]
    assert len(pushed) == 1
