"""The Criteo view's charts from the warehouse table the exports append to (ui/history.py)."""

from __future__ import annotations

import datetime
import uuid
from typing import TYPE_CHECKING

import pytest

from airflow_provider_criteo.exceptions import CriteoConfigurationError
from airflow_provider_criteo.ui.history import HistoryTable
from airflow_provider_criteo.workflows.history import append_history

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.warehouse import Warehouse


def summary(audience: str, size: int | None, rate: float | None, dry_run: bool = False) -> dict:
    return {
        "advertiser_id": "12345",
        "audience_name": audience,
        "segment": audience,
        "audience_size": size,
        "match_rate": rate,
        "dry_run": dry_run,
    }


@pytest.fixture
def history(warehouse: Warehouse, monkeypatch: pytest.MonkeyPatch) -> Iterator[HistoryTable]:
    """The history table configured for the view, as ``[criteo] history_table`` of the warehouse."""
    table = f"criteo_history_{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("AIRFLOW__CRITEO__HISTORY_TABLE", table)
    monkeypatch.setenv("AIRFLOW__CRITEO__HISTORY_CONN_ID", warehouse.conn_id)
    configured = HistoryTable.configured()
    assert configured == HistoryTable(warehouse.conn_id, table)
    yield configured
    warehouse.execute(f"DROP TABLE {table}")


def test_each_audience_has_its_last_exports_oldest_first(history: HistoryTable):
    run = {"dag_id": "exports", "run_id": "r", "task_id": "t"}
    for size, rate in [(100, 50.0), (110, None), (120, 0.7)]:
        append_history(history.conn_id, history.table, summary("vip", size, rate), run)
    append_history(history.conn_id, history.table, summary("vip", 999, 0.9, dry_run=True), run)
    append_history(history.conn_id, history.table, summary("vip", 5, 0.1), {**run, "dag_id": "secret"})
    append_history(history.conn_id, history.table, summary("churn", 7, 0.2), run)

    series = history.series({"exports"}, runs=2)

    assert set(series) == {("12345", "vip"), ("12345", "churn")}
    vip = series[("12345", "vip")]
    assert (vip.sizes, vip.match_rates) == ([110, 120], [None, 0.7])  # no dry run, no other DAG's row
    assert vip.times is not None
    assert vip.times[0] <= vip.times[1]
    assert vip.times[0].tzinfo is not None


def test_rows_of_older_tables_are_read_as_utc_exports(history: HistoryTable, warehouse: Warehouse):
    append_history(history.conn_id, history.table, summary("vip", 1, 0.5), {"dag_id": "exports"})
    # A row as an earlier version wrote it: no dry_run column then (NULL), a time without its zone.
    warehouse.execute(
        f"INSERT INTO {history.table} (exported_at, dag_id, advertiser_id, audience_name, audience_size) "
        "VALUES ('2026-12-01T10:00:00', 'exports', '12345', 'vip', 7)"
    )
    vip = history.series({"exports"})[("12345", "vip")]
    assert vip.sizes == [7, 1]  # the older row first
    assert vip.times is not None
    assert vip.times[0] == datetime.datetime(2026, 12, 1, 10, tzinfo=datetime.UTC)


def test_a_table_without_its_connection_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AIRFLOW__CRITEO__HISTORY_TABLE", "criteo_export_history")
    monkeypatch.delenv("AIRFLOW__CRITEO__HISTORY_CONN_ID", raising=False)
    with pytest.raises(CriteoConfigurationError, match=r"history_conn_id"):
        HistoryTable.configured()


def test_nothing_configured_is_no_history(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("AIRFLOW__CRITEO__HISTORY_TABLE", raising=False)
    assert HistoryTable.configured() is None
