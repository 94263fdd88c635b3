from __future__ import annotations

import pytest

from airflow_provider_criteo.exceptions import CriteoConfigurationError
from airflow_provider_criteo.hooks.criteo import CriteoHook
from tests.helpers import criteo_connection_json, segment_export


def test_an_advertiser_the_app_may_not_use_fails_before_any_member_data(
    sqlite_warehouse, criteo_sandbox, monkeypatch
):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRITEO_DEFAULT", criteo_connection_json(criteo_sandbox.url, advertiser_id="999")
    )
    sqlite_warehouse.load([("vip", "alice@example.com")])
    with pytest.raises(CriteoConfigurationError, match=r"Advertiser 999 is not among .* \(12345\)"):
        segment_export(sqlite_warehouse).execute(context={})
    assert [r.path for r in criteo_sandbox.requests] == ["/oauth2/token", "/2026-07/advertisers/me"]


def test_a_wrong_advertiser_fails_before_the_rows_are_read(
    sqlite_warehouse, criteo_sandbox, monkeypatch, capfd
):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRITEO_DEFAULT", criteo_connection_json(criteo_sandbox.url, advertiser_id="999")
    )
    sqlite_warehouse.load([("vip", f"p{i}@example.com") for i in range(50)])
    with pytest.raises(CriteoConfigurationError, match="Advertiser 999"):
        segment_export(sqlite_warehouse, chunk_size=10).execute(context={})
    assert "Read 50 rows" not in capfd.readouterr().out  # the check ran once the query had its columns


def test_an_empty_segment_still_checks_the_advertiser(sqlite_warehouse, criteo_sandbox, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRITEO_DEFAULT", criteo_connection_json(criteo_sandbox.url, advertiser_id="999")
    )
    with pytest.raises(CriteoConfigurationError, match="Advertiser 999"):
        segment_export(sqlite_warehouse, allow_large_removal=True).execute(context={})


def test_small_segments_are_warned_about(sqlite_warehouse, criteo_conn, capfd):
    sqlite_warehouse.load([("vip", f"p{i}@example.com") for i in range(3)])
    segment_export(sqlite_warehouse, min_audience_size=4).execute(context={})
    assert "Segment 'vip' has 3 valid members, under 4" in capfd.readouterr().out


def test_a_large_enough_segment_is_not(sqlite_warehouse, criteo_conn, capfd):
    sqlite_warehouse.load([("vip", f"p{i}@example.com") for i in range(3)])
    segment_export(sqlite_warehouse, min_audience_size=3).execute(context={})
    assert "valid members, under" not in capfd.readouterr().out


def test_passing_the_audience_cap_is_warned_about(sqlite_warehouse, criteo_conn, capfd):
    hook = CriteoHook(criteo_conn)
    for name in ("a", "b"):
        hook.create_contact_list_segment(name)
    sqlite_warehouse.load([("vip", "alice@example.com")])
    segment_export(sqlite_warehouse, max_audiences=2).execute(context={})
    assert "Advertiser 12345 has 2 audience segments; creating another passes Criteo's cap of about 2" in (
        capfd.readouterr().out
    )


def test_the_summary_carries_size_and_match_rate(sqlite_warehouse, criteo_conn):
    sqlite_warehouse.load([("vip", "alice@example.com"), ("vip", "bob@example.com")])
    summary = segment_export(sqlite_warehouse).execute(context={})
    assert (summary["audience_size"], summary["match_rate"]) == (2, 1.0)
