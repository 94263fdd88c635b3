from __future__ import annotations

import json
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg2
import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres", "dbname": "test"}


@dataclass
class Warehouse:
    """A demo warehouse: one table of (segment, email) rows behind the connection ``warehouse``."""

    kind: str
    table: str
    connect: Callable[[], Any]
    placeholder: str
    conn_id: str = "warehouse"

    @property
    def segment_sql(self) -> str:
        """The members of the segment bound as parameter ``segment``, in the driver's paramstyle."""
        param = ":segment" if self.placeholder == "?" else "%(segment)s"
        return f"SELECT email FROM {self.table} WHERE segment = {param}"

    def load(self, rows: Iterable[tuple[str, object]]) -> None:
        self.insert(("segment", "email"), rows)

    def insert(self, columns: tuple[str, ...], rows: Iterable[tuple[object, ...]]) -> None:
        """Insert rows into the named columns of the table."""
        values = ", ".join([self.placeholder] * len(columns))
        with closing(self.connect()) as db:
            db.cursor().executemany(
                f"INSERT INTO {self.table} ({', '.join(columns)}) VALUES ({values})", list(rows)
            )
            db.commit()

    def add_columns(self, *names: str) -> None:
        """Give the table more text columns (other identifier types)."""
        for name in names:
            self.execute(f"ALTER TABLE {self.table} ADD COLUMN {name} TEXT")

    def execute(self, sql: str) -> None:
        with closing(self.connect()) as db:
            db.cursor().execute(sql)
            db.commit()


@pytest.fixture
def sqlite_warehouse(tmp_path, monkeypatch) -> Warehouse:
    path = str(tmp_path / "warehouse.db")
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": path}))
    warehouse = Warehouse("sqlite", "segment_members", lambda: sqlite3.connect(path), "?")
    warehouse.execute("CREATE TABLE segment_members (segment TEXT, email TEXT)")
    return warehouse


@pytest.fixture
def postgres_warehouse(monkeypatch):
    conn = {"conn_type": "postgres", "host": POSTGRES["host"], "port": POSTGRES["port"]}
    conn |= {"login": POSTGRES["user"], "schema": POSTGRES["dbname"]}
    monkeypatch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps(conn))
    table = f"segment_members_{uuid.uuid4().hex[:10]}"
    warehouse = Warehouse("postgres", table, lambda: psycopg2.connect(**POSTGRES), "%s")
    warehouse.execute(f"CREATE TABLE {table} (segment TEXT, email TEXT)")
    yield warehouse
    warehouse.execute(f"DROP TABLE {table}")


@pytest.fixture(params=["sqlite", "postgres"])
def warehouse(request) -> Warehouse:
    return request.getfixturevalue(f"{request.param}_warehouse")
