"""Fixtures of the example DAG tests: a migrated metadata database and a small demo warehouse."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from criteo_examples import WAREHOUSE_CONN_ID

from demo.environment import set_up_airflow
from demo.warehouse import create_warehouse
from tests.helpers import demo_audiences

if TYPE_CHECKING:
    from pathlib import Path

CUSTOMERS = 1_500


@dataclass
class DemoWarehouse:
    """The demo warehouse of one test, behind the connection ``demo_warehouse``."""

    path: Path

    def query(self, sql: str) -> list[tuple]:
        """Rows of a query."""
        with closing(sqlite3.connect(self.path)) as db:
            return db.execute(sql).fetchall()

    def expected_audiences(self) -> dict[str, set[str]]:
        """Per segment, the identifiers Criteo must hold (see :func:`helpers.demo_audiences`)."""
        return demo_audiences(self.path)


@pytest.fixture(scope="session")
def example_airflow() -> None:
    """The session's metadata database, migrated, with the ``criteo_api`` pool (as the demo sets it up)."""
    set_up_airflow()


@pytest.fixture
def demo_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DemoWarehouse:
    """A freshly generated demo warehouse of 1,500 customers, as connection ``demo_warehouse``."""
    path = tmp_path / "warehouse.db"
    create_warehouse(path, customers=CUSTOMERS)
    connection = json.dumps({"conn_type": "sqlite", "host": str(path)})
    monkeypatch.setenv(f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}", connection)
    return DemoWarehouse(path)
