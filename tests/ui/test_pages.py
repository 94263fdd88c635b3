"""The Criteo view's pages, rendered from exports: escaped, complete, and readable without a script."""

from __future__ import annotations

import datetime

from airflow_provider_criteo.ui import pages
from airflow_provider_criteo.ui.exports import Audience, Export

WHEN = datetime.datetime(2026, 12, 6, 9, 30, tzinfo=datetime.UTC)
HOSTILE = '<img src=x onerror="alert(1)">'


def export(summary: dict | None, state: str = "success", **record) -> Export:
    record = {
        "advertiser_id": "12345",
        "audience_name": "vip",
        "segment": "vip",
        "sync_mode": "mirror",
    } | record
    return Export("dag", "run 1", "export", 2, state, WHEN, record, summary)


def test_names_and_ids_are_escaped_everywhere():
    hostile = export({"audience_id": HOSTILE, "added": 1}, audience_name=HOSTILE, segment=HOSTILE)
    audience = Audience("12345", HOSTILE, [hostile])
    for html in (
        pages.overview([audience], pages.History(), root=""),
        pages.audience(audience, pages.History(), root=""),
        pages.export(hostile, audience, root=""),
    ):
        assert HOSTILE not in html
        assert "&lt;img src=x" in html


def test_the_overview_shows_the_last_export_of_each_audience_with_its_drift():
    last = export(
        {
            "audience_id": "7",
            "added": 1_200,
            "removed": 3,
            "audience_size": 98_765,
            "match_rate": 61.5,
            "drift": 40,
        }
    )
    html = pages.overview([Audience("12345", "vip", [last])], pages.History(), root="/airflow")
    assert "98,765" in html
    assert "61.5%" in html  # Criteo's percentage, shown as one
    assert '<span class="drift">40</span>' in html
    assert 'href="/airflow/dags/dag/runs/run%201"' in html  # into Airflow, under its base path
    assert 'href="/airflow/criteo/audiences/12345/vip"' in html


def test_a_dry_run_and_a_running_export_say_so():
    dry = export(None, state="running", dry_run=True)
    html = pages.export(dry, Audience("12345", "vip", [dry]), root="")
    assert '<span class="state state-running">running</span>' in html
    assert '<span class="tag">dry run</span>' in html
    assert "This try has returned no summary yet." in html


def test_the_export_page_lists_each_identifier_type_and_form():
    summary = {
        "added": 3,
        "rejected_by_reason": {"invalid_syntax": 2},
        "identifier_types": {
            "email": {"forms": {"sha256": {"members": 5, "added": 2}, "md5": {"members": 1, "added": 1}}},
            "phoneNumber": {"forms": {"sha256": {"members": 4, "removed": 1}}},
        },
    }
    html = pages.export(export(summary), Audience("12345", "vip", []), root="")
    assert "Rejected: invalid_syntax" in html
    assert html.count('data-label="Type"') == 3
    assert "phoneNumber" in html
    assert "md5" in html


def test_an_advertiser_without_any_export_that_sent_something_has_no_chart():
    dry = export({"audience_id": "7", "added": 10}, dry_run=True)
    html = pages.overview([Audience("12345", "vip", [dry])], pages.History(), root="")
    assert "<svg" not in html
    assert "No export of these audiences has sent anything yet" in html
