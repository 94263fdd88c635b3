"""Helpers shared by the test modules."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from airflow_provider_criteo.operators.segment_export import SegmentExportOperator
from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET


def criteo_connection_json(
    url: str,
    *,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    **extra: object,
) -> str:
    """An ``AIRFLOW_CONN_*`` JSON value for a Criteo connection to the sandbox at ``url``."""
    return json.dumps(
        {
            "conn_type": "criteo",
            "host": url,
            "login": client_id,
            "password": client_secret,
            "extra": {"advertiser_id": DEFAULT_ADVERTISER_ID, "data_transfer_consent": True, **extra},
        }
    )


class FakeClock:
    """A monotonic clock whose sleep only advances it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def sha(address: str) -> str:
    """The identifier Criteo receives for an already normalised address."""
    return hashlib.sha256(address.encode()).hexdigest()


def segment_export(warehouse: Any, **overrides: Any) -> SegmentExportOperator:
    """An export of the warehouse's segment ``vip`` (any argument can be overridden)."""
    arguments = {
        "task_id": "export",
        "segment": "vip",
        "sql_conn_id": warehouse.conn_id,
        "sql": warehouse.segment_sql,
        "parameters": {"segment": "vip"},
    }
    return SegmentExportOperator(**(arguments | overrides))
