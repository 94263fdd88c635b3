"""Hostile configuration and data: refused before anything is sent, or bound and never interpolated."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import pytest

from airflow_provider_criteo.exceptions import CriteoConfigurationError
from tests.helpers import segment_export, sha

if TYPE_CHECKING:
    from airflow_provider_criteo.operators.segment_export import SegmentExportOperator

INJECTIONS = [
    "vip' OR '1'='1",
    "vip'; DROP TABLE segment_members; --",
    'vip" /* comment */',
    "vip\u2019 -- ségment élite ☃",
]


def export(warehouse, **kwargs) -> SegmentExportOperator:
    return segment_export(warehouse, **({"parameters": None} | kwargs))


def row_count(warehouse) -> int:
    with warehouse.connect() as db:
        cursor = db.cursor()
        cursor.execute(f"SELECT COUNT(*) FROM {warehouse.table}")
        return cursor.fetchone()[0]


@pytest.mark.parametrize("name", INJECTIONS)
def test_hostile_segment_names_are_bound_not_interpolated(warehouse, criteo_conn, criteo_sandbox, name):
    warehouse.load([("vip", "alice@example.com"), (name, "mallory@example.com")])
    summary = export(warehouse, segment=name, parameters={"segment": name}).execute(context={})
    assert summary["rows_read"] == 1  # exactly the rows of that literal segment name
    (audience,) = criteo_sandbox.segments()
    assert audience["attributes"]["name"] == name
    assert criteo_sandbox.members(audience["id"]) == {sha("mallory@example.com")}
    assert row_count(warehouse) == 2


def test_templated_values_cannot_inject_sql(sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.load([("vip", "alice@example.com"), ("other", "bob@example.com")])
    op = export(sqlite_warehouse, parameters={"segment": "{{ params.segment }}"})
    op.render_template_fields({"params": {"segment": "vip' OR '1'='1"}})
    assert op.parameters == {"segment": "vip' OR '1'='1"}
    assert op.execute(context={})["rows_read"] == 0


@pytest.mark.parametrize(
    "table",
    [
        'segment_members"; DROP TABLE segment_members; --',
        "segment_members -- comment",
        "segment_members/**/",
        "segment_members;",
        "`segment_members`",
        "seg'ment",
        "ségment\u200b",
    ],
)
def test_hostile_table_names_are_refused_before_anything_is_sent(
    sqlite_warehouse, criteo_conn, criteo_sandbox, table
):
    with pytest.raises(CriteoConfigurationError, match="Unsafe name"):
        export(sqlite_warehouse, sql=None, table=table).execute(context={})
    assert criteo_sandbox.requests == []
    assert row_count(sqlite_warehouse) == 0  # the table is still there


def test_a_unicode_table_name_is_quoted_and_read(sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.execute('CREATE TABLE "Ségment_élite" (email TEXT)')
    sqlite_warehouse.execute("INSERT INTO \"Ségment_élite\" VALUES ('Zoé@Example.fr')")
    summary = export(sqlite_warehouse, sql=None, table="Ségment_élite").execute(context={})
    assert summary["added"] == 1


def test_a_query_with_several_columns_uses_the_email_column(sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.load([("vip", "alice@example.com")])
    sql = "SELECT segment, email, 42 AS score FROM segment_members"
    assert export(sqlite_warehouse, sql=sql).execute(context={})["added"] == 1


def test_a_query_without_email_column_fails_before_sending(sqlite_warehouse, criteo_conn, criteo_sandbox):
    sqlite_warehouse.load([("vip", "alice@example.com")])
    with pytest.raises(CriteoConfigurationError, match=r"its columns are \['segment'\]"):
        export(sqlite_warehouse, sql="SELECT segment FROM segment_members").execute(context={})
    assert criteo_sandbox.requests == []


def test_non_text_values_are_rejected_and_counted(postgres_warehouse, criteo_conn, criteo_sandbox):
    sql = "SELECT 42 AS email UNION ALL SELECT 7 UNION ALL SELECT NULL"
    summary = export(postgres_warehouse, sql=sql).execute(context={})
    assert summary["rejected_by_reason"] == {"not_text": 2, "null": 1}
    assert summary["added"] == 0


def test_dates_and_binary_values_are_not_text(sqlite_warehouse, criteo_conn):
    sqlite_warehouse.load([("vip", datetime.date(2024, 1, 1).isoformat())])
    sqlite_warehouse.execute("INSERT INTO segment_members VALUES ('vip', x'ff00')")
    summary = export(sqlite_warehouse, parameters={"segment": "vip"}).execute(context={})
    assert summary["rejected_by_reason"] == {"invalid_format": 1, "not_text": 1}


def test_one_row_over_the_default_cap_sends_nothing(sqlite_warehouse, criteo_conn, criteo_sandbox):
    with sqlite_warehouse.connect() as db:
        db.execute(
            "INSERT INTO segment_members WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n "
            "WHERE i < 1000000) SELECT 'vip', 'p' || i || '@example.com' FROM n"
        )
    assert row_count(sqlite_warehouse) == 1_000_001
    with pytest.raises(
        CriteoConfigurationError, match="1,000,001 distinct valid members, over max_profiles=1,000,000"
    ):
        export(sqlite_warehouse, parameters={"segment": "vip"}).execute(context={})
    # Only the advertiser check, made before the rows were read: no member data.
    assert [request.path.rsplit("/", 1)[-1] for request in criteo_sandbox.requests] == ["token", "me"]
