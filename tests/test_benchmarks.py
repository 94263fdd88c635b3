"""The benchmark helpers do what benchmarks/README.md says (behaviour only: no timing here)."""

from __future__ import annotations

import hashlib
import importlib.util
import random
import sqlite3
import sys
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from airflow_provider_criteo.identifiers.email import prepare_email

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


profiles = load("profiles")
floor = load("floor")
identifiers_bench = load("identifiers_bench")


def test_profiles_are_deterministic_and_as_messy_as_documented():
    rows = list(profiles.rows(20_000))
    assert rows == list(profiles.rows(20_000))
    prepared = [prepare_email(value) for value in rows]
    valid = [normalized for normalized, _ in prepared if normalized is not None]
    assert 0.005 < 1 - len(valid) / len(rows) < 0.015  # about 1% invalid
    assert 0.02 < 1 - len(set(valid)) / len(valid) < 0.04  # about 3% duplicates
    assert 0.10 < sum(v != v.lower() for v in rows if isinstance(v, str)) / len(rows) < 0.20  # mixed case
    assert any(v is None for v in rows)
    assert any(not v.isascii() for v in valid)


def test_the_churned_table_differs_by_one_percent_of_the_profiles():
    before = {n for n, _ in map(prepare_email, profiles.rows(20_000)) if n is not None}
    after = {n for n, _ in map(prepare_email, profiles.rows(20_000, churn=True)) if n is not None}
    left, joined = before - after, after - before
    assert len(left) == len(joined)
    assert 0.008 < len(left) / len(before) < 0.012
    assert all(address.startswith("joiner.") for address in joined)


def test_load_sqlite_builds_both_tables_once(tmp_path):
    path = str(tmp_path / "warehouse.db")
    assert not profiles.sqlite_ready(path, 500)
    profiles.load_sqlite(path, 500)
    assert profiles.sqlite_ready(path, 500)
    with closing(sqlite3.connect(path)) as db:
        for churn in (False, True):
            table = profiles.table_name(500, churn)
            values = [v for (v,) in db.execute(f"SELECT email FROM {table} ORDER BY id")]
            assert values == list(profiles.rows(500, churn))


@pytest.mark.parametrize("value", ["  Ann@Example.com", "bob@example.org\t", None])
def test_the_floor_sends_the_hashes_of_what_it_reads(criteo_sandbox, value):
    values = ["Carl@Example.com", value, "dee@example.net"] * 2
    figures = floor.run(
        criteo_sandbox.url, iter(values), "sandbox-client-id", "sandbox-client-secret", "12345"
    )
    expected = {hashlib.sha256(v.strip().lower().encode()).hexdigest() for v in values if v is not None}
    assert figures["rows"] == 6
    assert figures["sent"] == sum(v is not None for v in values)
    assert criteo_sandbox.members(figures["segment"]) == expected
    assert Counter(r.method for r in criteo_sandbox.requests) == {"POST": 2, "PATCH": 1}


def test_the_read_floor_hashes_every_value_in_batches_and_counts_every_row(monkeypatch):
    monkeypatch.setattr(floor, "BATCH", 2)
    values = ["Carl@Example.com", None, " dee@example.net", "ann@example.org\t", None]
    counts = {"rows": 0}
    batches = list(floor.hashed_batches(iter(values), counts))
    digests = [hashlib.sha256(v.strip().lower().encode()).hexdigest() for v in values if v is not None]
    assert batches == [digests[:2], digests[2:]]
    assert counts == {"rows": 5}
    assert floor.read_only(iter(values)) == {"rows": 5, "hashed": 3, "sent": 0, "requests": 0}


def test_the_identifier_benchmark_prepares_what_it_says():
    counts = identifiers_bench.prepare_all("phoneNumber", identifiers_bench.phones(6_000, random.Random(7)))
    assert counts["values"] == 6_000
    assert 0.98 < counts["valid"] / 6_000 < 0.995  # about 1% cut short, refused
    # Six notations of each number, one E.164 number: 1,000 numbers, less those only ever cut short.
    assert 990 < counts["distinct"] <= 1_000
    emails = identifiers_bench.prepare_all("email", identifiers_bench.emails(1_000, random.Random(7)))
    assert emails["distinct"] == emails["valid"] > 980
    assert identifiers_bench.measure("madid", 100, 1)["distinct"] == 100
