from __future__ import annotations

import sqlite3
import threading
from contextlib import closing
from types import SimpleNamespace

import psycopg
import pytest

from airflow_provider_criteo.exceptions import CriteoConfigurationError
from airflow_provider_criteo.segments.source import get_sql_hook, quote_name, stream_columns, table_query


class FakeHook:
    def __init__(self, escape_word_format: str = '"{}"') -> None:
        self.escape_word_format = escape_word_format


@pytest.mark.parametrize(
    ("name", "quoted"),
    [
        ("members", '"members"'),
        ("crm.members", '"crm"."members"'),
        ("warehouse.crm.vip_2024", '"warehouse"."crm"."vip_2024"'),
        ("Ségment_élite", '"Ségment_élite"'),
        ("_private$1", '"_private$1"'),
    ],
)
def test_valid_names_are_quoted_part_by_part(name, quoted):
    assert quote_name(FakeHook(), name) == quoted


def test_the_connections_quote_style_is_used():
    assert quote_name(FakeHook("`{}`"), "crm.members") == "`crm`.`members`"


@pytest.mark.parametrize(
    "name",
    [
        'members"; DROP TABLE x; --',
        "members --",
        "a b",
        "a..b",
        ".a",
        "a.",
        "1abc",
        "a.b.c.d",
        "",
        "a/*b*/",
        "tab\tle",
    ],
)
def test_anything_else_is_refused(name):
    with pytest.raises(CriteoConfigurationError, match="Unsafe name"):
        quote_name(FakeHook(), name)


def test_column_names_take_one_part():
    with pytest.raises(CriteoConfigurationError):
        table_query(FakeHook(), "members", ["t.email"])
    assert table_query(FakeHook(), "crm.members", ["email"]) == 'SELECT "email" FROM "crm"."members"'
    assert table_query(FakeHook(), "members", ["email", "phone"]) == 'SELECT "email", "phone" FROM "members"'


def test_stream_column_yields_chunks(warehouse):
    warehouse.load([("vip", f"user{i}@example.com") for i in range(25)])
    hook = get_sql_hook(warehouse.conn_id)
    sql = f"SELECT segment, email FROM {warehouse.table}"
    chunks = [values for (values,) in stream_columns(hook, sql, None, ["EMAIL"], 10)]
    assert [len(c) for c in chunks] == [10, 10, 5]
    assert chunks[0][0] == "user0@example.com"


def test_stream_columns_splits_rows_into_the_named_columns(sqlite_warehouse):
    sqlite_warehouse.load([("vip", f"user{i}@example.com") for i in range(3)])
    hook = get_sql_hook(sqlite_warehouse.conn_id)
    sql = f"SELECT segment, email FROM {sqlite_warehouse.table} ORDER BY rowid"
    chunks = list(stream_columns(hook, sql, None, ["email", "segment", "email"], 2))
    first, second = ["user0@example.com", "user1@example.com"], ["user2@example.com"]
    assert [[list(column) for column in chunk] for chunk in chunks] == [
        [first, ["vip", "vip"], first],
        [second, ["vip"], second],
    ]


def test_postgres_streams_through_a_server_side_cursor(postgres_warehouse):
    # More chunks than the reader thread may fetch ahead, so that the cursor is still open below.
    postgres_warehouse.load([("vip", f"user{i}@example.com") for i in range(100)])
    hook = get_sql_hook(postgres_warehouse.conn_id)
    with closing(
        stream_columns(hook, f"SELECT email FROM {postgres_warehouse.table}", None, ["email"], 10)
    ) as chunks:
        next(chunks)
        with closing(postgres_warehouse.connect()) as observer, observer.cursor() as cursor:
            cursor.execute("SELECT query FROM pg_stat_activity WHERE query LIKE 'FETCH FORWARD 10 FROM %'")
            assert cursor.fetchall(), "the export's backend is not fetching from a server-side cursor"
        assert sum(len(values) for (values,) in chunks) == 90


def test_chunks_come_in_order(warehouse):
    warehouse.insert(("segment", "email"), [("vip", f"user{i:02}@example.com") for i in range(95)])
    hook = get_sql_hook(warehouse.conn_id)
    sql = f"SELECT email FROM {warehouse.table} ORDER BY email"
    values = [v for (chunk,) in stream_columns(hook, sql, None, ["email"], 10) for v in chunk]
    assert values == [f"user{i:02}@example.com" for i in range(95)]


def test_an_early_stop_closes_the_server_reader_and_its_connection(postgres_warehouse):
    postgres_warehouse.load([("vip", f"user{i}@example.com") for i in range(95)])
    hook = get_sql_hook(postgres_warehouse.conn_id)
    readers = {t for t in threading.enumerate() if t.name == "criteo-export-reader"}
    sql = f"SELECT email FROM {postgres_warehouse.table}"
    with closing(stream_columns(hook, sql, None, ["email"], 17)) as chunks:
        assert len(next(chunks)[0]) == 17
        assert _sessions_fetching_17(postgres_warehouse) == 1
    assert {t for t in threading.enumerate() if t.name == "criteo-export-reader"} == readers
    assert _sessions_fetching_17(postgres_warehouse) == 0


def _sessions_fetching_17(warehouse) -> int:
    """How many PostgreSQL sessions are open whose last query fetched 17 rows from an export's cursor."""
    with closing(warehouse.connect()) as observer, observer.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE %s",
            ("FETCH FORWARD 17 FROM %criteo_export_%",),
        )
        return cursor.fetchone()[0]


def test_an_early_stop_releases_the_sqlite_warehouse(sqlite_warehouse, tmp_path):
    sqlite_warehouse.load([("vip", f"user{i}@example.com") for i in range(95)])
    hook = get_sql_hook(sqlite_warehouse.conn_id)
    sql = f"SELECT email FROM {sqlite_warehouse.table}"
    with closing(stream_columns(hook, sql, None, ["email"], 10)) as chunks:
        assert len(next(chunks)[0]) == 10
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            _delete_all(tmp_path / "warehouse.db")  # the open read keeps the file's shared lock
    _delete_all(tmp_path / "warehouse.db")


def _delete_all(path) -> None:
    """Empty the warehouse table without waiting for a lock: fails at once while a reader holds the file."""
    with closing(sqlite3.connect(path, timeout=0)) as db:
        db.execute("DELETE FROM segment_members")
        db.commit()


def test_reader_failures_reach_the_caller(warehouse):
    hook = get_sql_hook(warehouse.conn_id)
    with pytest.raises(CriteoConfigurationError, match="no column 'mail'"):
        next(stream_columns(hook, f"SELECT email FROM {warehouse.table}", None, ["email", "mail"], 10))
    missing_table = sqlite3.OperationalError if warehouse.kind == "sqlite" else psycopg.errors.UndefinedTable
    with pytest.raises(missing_table):
        next(stream_columns(hook, "SELECT email FROM missing", None, ["email"], 10))


class _FailingCursor:
    """A cursor whose query fails as MySQL's do: quoting a row value, or the table it lacks."""

    def __init__(self, message: str) -> None:
        self.message = message

    def execute(self, sql, *parameters):
        raise sqlite3.DatabaseError(self.message)

    def close(self) -> None:
        pass


class _FailingConnection:
    def __init__(self, message: str) -> None:
        self.message = message

    def cursor(self):
        return _FailingCursor(self.message)

    def close(self) -> None:
        pass


@pytest.mark.parametrize(
    ("message", "shown"),
    [
        (
            "Truncated incorrect DOUBLE value: 'jorg@example.com'",
            "Truncated incorrect DOUBLE value: '<withheld>'",
        ),
        ('invalid input syntax for type bigint: "+33 6 12 34 56 78"', 'bigint: "<withheld>"'),
        (
            "Incorrect value 'Jörg Müller' for column 'email' at row 7",
            "'<withheld>' for column 'email' at row 7",
        ),
        ("Table 'crm.missing' doesn't exist", "Table 'crm.missing' doesn't exist"),
        ("device 123e4567-e89b-12d3-a456-426614174000 unknown", "device <withheld> unknown"),
    ],
)
def test_a_query_error_keeps_its_type_but_not_the_row_values_it_quotes(message, shown):
    hook = SimpleNamespace(get_conn=lambda: _FailingConnection(message), conn_type="mysql")
    with pytest.raises(sqlite3.DatabaseError) as err:
        next(stream_columns(hook, "SELECT email FROM missing", None, ["email"], 10))
    assert shown in str(err.value)
    for value in ("jorg", "+33", "Jörg", "123e4567"):
        assert value not in str(err.value)
