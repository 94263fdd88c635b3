"""Exports whose members outgrow a tiny memory budget: sorted runs on disk, the same audiences and results.

Each scenario runs twice against one sandbox, into two audiences: with a budget of a few keys (every
member set, snapshot, intent and diff spills to disk and is merged in windows of a few keys) and with
the default one (all in memory). The audiences, the summaries and the snapshots must be the same.
"""

from __future__ import annotations

import os
import uuid

import pytest

from airflow_provider_criteo.exceptions import UndecodableTextError
from airflow_provider_criteo.operators.erase import CriteoEraseOperator
from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID
from airflow_provider_criteo.segments import reading
from airflow_provider_criteo.segments.key_files import chunks
from airflow_provider_criteo.sync.protocol import peek
from airflow_provider_criteo.sync.snapshots import SnapshotKey, SnapshotStore
from tests.helpers import fail_amendments_after, segment_export, sha

TINY_BUDGET_MB = str(100 / 2**20)  # 100 bytes: three digests a run
COLUMNS = {"email": "email", "phoneNumber": "phone", "madid": "device_id", "identityLink": "ramp_id"}
EMAIL_ONLY = {"email": "email"}
#: Both runs of a scenario make more calls than Criteo's 250 a minute: the test lifts the limit.
UNTHROTTLED = 100_000


def row(segment: str, n: int) -> tuple[str, ...]:
    email = f"User{n}@Example.com" if n % 3 else f"user{n}@example.com "
    return (segment, email, f"+33 6 12 34 {n:04d}", str(uuid.UUID(int=n + 1)).upper(), f"XY{n}")


def expected(kinds, members: set[int]) -> dict[str, set[str]]:
    every = {
        "email": {sha(f"user{n}@example.com") for n in members},
        "phoneNumber": {sha(f"3361234{n:04d}") for n in members},
        "madid": {str(uuid.UUID(int=n + 1)) for n in members},
        "identityLink": {f"XY{n}" for n in members},
    }
    return {kind: every[kind] for kind in kinds}


#: (sync mode, members of the segment, whether the run's second amendment fails), in order.
SCRIPT = [
    ("mirror", range(0, 40), False),  # the first export: everything added
    ("mirror", range(4, 44), False),  # churn: 4 left, 4 joined
    ("dry_run", range(8, 48), False),  # reports the diff, changes nothing
    ("add_only", range(12, 52), False),  # adds who joined, removes nobody
    ("mirror", range(12, 52), True),  # fails mid-way: its intent stays
    ("mirror", range(12, 52), False),  # heals: removes who left, from the snapshot and the intent
    ("replace", range(16, 56), False),  # wipes, adds every member
    ("mirror", range(14, 54), False),
]


def run_script(warehouse, sandbox, monkeypatch, kinds, segment: str, **options) -> list:
    """Run SCRIPT for ``segment``; after each step, its summary (or error) and the audience."""
    seen = []
    for mode, members, fails in SCRIPT:
        if fails:
            with monkeypatch.context() as patch:
                fail_amendments_after(patch, 1, RuntimeError("worker killed"))
                with pytest.raises(RuntimeError, match="worker killed"):
                    run_script_step(warehouse, segment, kinds, members, mode, **options)
            summary = "failed"
        else:
            summary = strip(run_script_step(warehouse, segment, kinds, members, mode, **options))
        audience = next(s for s in sandbox.segments() if s["attributes"]["name"] == segment)
        seen.append((summary, {kind: sandbox.members(audience["id"], kind) for kind in kinds}))
    return seen


def run_script_step(warehouse, segment: str, kinds, members: range, mode: str = "mirror", **options) -> dict:
    """Make ``members`` the segment, and export it in ``mode`` (or a dry run of mirror)."""
    warehouse.execute(f"DELETE FROM {warehouse.table} WHERE segment = '{segment}'")
    rows = [row(segment, n) for n in members]
    warehouse.insert(("segment", "email", "phone", "device_id", "ramp_id"), rows)
    sync_mode = "mirror" if mode == "dry_run" else mode
    return export_of(warehouse, segment, kinds, sync_mode=sync_mode, dry_run=mode == "dry_run", **options)


def export_of(warehouse, segment: str, kinds, **options) -> dict:
    """Export the ``kinds`` columns of ``segment``, in batches of 7, unthrottled."""
    placeholder = "?" if warehouse.placeholder == "?" else "%s"
    return segment_export(
        warehouse,
        task_id=segment,
        segment=segment,
        sql=f"SELECT {', '.join(kinds.values())} FROM {warehouse.table} WHERE segment = {placeholder}",
        parameters=[segment],
        identifier_columns=kinds,
        batch_size=7,
        min_audience_size=1,
        hook_params={"calls_per_minute": UNTHROTTLED},
        **options,
    ).execute(context={})


def strip(summary: dict) -> dict:
    return {k: v for k, v in summary.items() if k not in ("segment", "audience_name", "audience_id")}


@pytest.fixture
def table(sqlite_warehouse):
    sqlite_warehouse.add_columns("phone", "device_id", "ramp_id")
    return sqlite_warehouse


STREAMED = "its members are sent as they are read"


@pytest.mark.parametrize("max_profiles", [1_000_000, None], ids=["capped", "uncapped"])
@pytest.mark.parametrize("kinds", [EMAIL_ONLY, COLUMNS], ids=["email", "every-type"])
def test_a_tiny_budget_spills_and_gives_the_same_audiences_and_results(
    table, criteo_conn, criteo_sandbox, monkeypatch, tmp_path, capfd, kinds, max_profiles
):
    """Uncapped, the first export (to a new audience) sends its runs while it reads: the same results."""
    criteo_sandbox.configure(rate_limit_per_minute=UNTHROTTLED)
    spill = tmp_path / "spill"
    monkeypatch.setenv("AIRFLOW__CRITEO__SPILL_LOCATION", str(spill))
    monkeypatch.setenv("AIRFLOW__CRITEO__MEMORY_BUDGET_MB", TINY_BUDGET_MB)
    spilled = run_script(table, criteo_sandbox, monkeypatch, kinds, "spilled", max_profiles=max_profiles)
    logged = capfd.readouterr().out
    assert "were sorted on disk in" in logged
    assert (STREAMED in logged) == (max_profiles is None)
    assert os.listdir(spill) == []  # removed after every run, the failed one too
    monkeypatch.delenv("AIRFLOW__CRITEO__MEMORY_BUDGET_MB")
    held = run_script(table, criteo_sandbox, monkeypatch, kinds, "held", max_profiles=max_profiles)
    assert "were sorted on disk in" not in capfd.readouterr().out
    assert spilled == held
    holds: set[int] = set()  # who the audience holds, step by step
    for (mode, members, fails), (_, audience) in zip(SCRIPT, spilled, strict=True):
        if fails:
            continue
        if mode == "add_only":
            holds |= set(members)
        elif mode != "dry_run":
            holds = set(members)
        assert audience == expected(kinds, holds), mode


@pytest.mark.parametrize("budget", [TINY_BUDGET_MB, "128"])
def test_an_erasure_forgets_people_in_a_snapshot_on_disk_or_in_memory(
    table, criteo_conn, criteo_sandbox, monkeypatch, tmp_path, budget
):
    criteo_sandbox.configure(rate_limit_per_minute=UNTHROTTLED)
    monkeypatch.setenv("AIRFLOW__CRITEO__SPILL_LOCATION", str(tmp_path / "spill"))
    monkeypatch.setenv("AIRFLOW__CRITEO__MEMORY_BUDGET_MB", budget)
    run_script(table, criteo_sandbox, monkeypatch, EMAIL_ONLY, "vip")
    table.execute("CREATE TABLE erasure_requests (email TEXT)")
    table.execute("INSERT INTO erasure_requests VALUES ('user20@example.com'), ('USER21@example.com')")
    erased = CriteoEraseOperator(
        task_id="erase", sql_conn_id=table.conn_id, table="erasure_requests", audit_table="erasure_audit"
    ).execute(context={})
    (audience,) = criteo_sandbox.segments()
    assert erased["audience_ids"] == [audience["id"]]
    left = set(SCRIPT[-1][1]) - {20, 21}
    assert criteo_sandbox.members(audience["id"], "email") == expected(EMAIL_ONLY, left)["email"]
    # The snapshot forgot them too: a mirror run of a segment that still lists them adds them again.
    criteo_sandbox.clear_requests()
    rerun = run_script_step(table, "vip", EMAIL_ONLY, SCRIPT[-1][1])
    assert (rerun["added"], rerun["removed"]) == (2, 0)


@pytest.mark.parametrize("failing", ["criteo", "source"])
def test_a_new_audience_whose_streamed_export_fails_is_healed_by_the_next_run(
    table, criteo_conn, criteo_sandbox, monkeypatch, tmp_path, failing
):
    """Runs sent before the failure stay in their intents: the next run adds the rest, removes nobody."""
    criteo_sandbox.configure(rate_limit_per_minute=UNTHROTTLED)
    monkeypatch.setenv("AIRFLOW__CRITEO__SPILL_LOCATION", str(tmp_path / "spill"))
    monkeypatch.setenv("AIRFLOW__CRITEO__MEMORY_BUDGET_MB", TINY_BUDGET_MB)
    members = range(0, 60)
    with monkeypatch.context() as patch:
        if failing == "criteo":
            fail_amendments_after(patch, 3, RuntimeError("Criteo went away"))
        else:  # the source breaks after some rows were read, and some runs sent
            fail_reading_after(patch, rows=40)
        with pytest.raises(RuntimeError, match="went away"):
            run_script_step(table, "vip", EMAIL_ONLY, members, max_profiles=None, chunk_size=10)
    (audience,) = criteo_sandbox.segments()
    sent = criteo_sandbox.members(audience["id"], "email")
    if failing == "criteo":
        assert sent  # three batches went before the failure
    assert sent < expected(EMAIL_ONLY, set(members))["email"]
    store = SnapshotStore.from_config()
    key = SnapshotKey(DEFAULT_ADVERTISER_ID, audience["id"])
    intended = {digest for intent in peek(store, key).intents for digest in hexes(intent.adds)}
    assert sent <= intended  # whatever was sent, an intent says so
    rerun = run_script_step(table, "vip", EMAIL_ONLY, members, max_profiles=None)
    assert (rerun["audience_created"], rerun["removed"]) == (False, 0)
    assert criteo_sandbox.members(audience["id"], "email") == expected(EMAIL_ONLY, set(members))["email"]
    again = run_script_step(table, "vip", EMAIL_ONLY, members, max_profiles=None)
    assert (again["added"], again["removed"]) == (0, 0)
    assert peek(store, key).intents == []  # folded by two commits, then retired


def fail_reading_after(patch, rows: int) -> None:
    """Make the source fail once ``rows`` rows were read (a warehouse that goes away mid-read)."""
    stream_columns = reading.stream_columns

    def failing(*args, **kwargs):
        read = 0
        for chunk in stream_columns(*args, **kwargs):
            yield chunk
            read += len(chunk[0])
            if read >= rows:
                raise RuntimeError("the warehouse went away")

    patch.setattr(reading, "stream_columns", failing)


def hexes(keys) -> set[str]:
    """The digests of keys in hex (``tolist`` would drop their trailing NUL bytes)."""
    raw = b"".join(part.tobytes() for part in chunks(keys))
    return {raw[start : start + 32].hex() for start in range(0, len(raw), 32)}


def email_export(table, segment: str, **options) -> dict:
    """An uncapped mirror export of the e-mails of ``segment`` (a new audience's runs go early)."""
    return export_of(table, segment, EMAIL_ONLY, max_profiles=None, **options)


def test_members_sent_in_two_runs_are_counted_once_and_criteo_s_counts_unknown(
    table, criteo_conn, criteo_sandbox, monkeypatch, tmp_path
):
    criteo_sandbox.configure(rate_limit_per_minute=UNTHROTTLED)
    monkeypatch.setenv("AIRFLOW__CRITEO__SPILL_LOCATION", str(tmp_path / "spill"))
    monkeypatch.setenv("AIRFLOW__CRITEO__MEMORY_BUDGET_MB", TINY_BUDGET_MB)
    table.load([("vip", f"user{n % 20}@example.com") for n in range(40)])  # each member in two chunks
    summary = email_export(table, "vip", chunk_size=10)
    (audience,) = criteo_sandbox.segments()
    assert criteo_sandbox.members(audience["id"], "email") == expected(EMAIL_ONLY, set(range(20)))["email"]
    assert (summary["added"], summary["duplicates"]) == (20, 20)
    # Criteo counted the members sent twice twice: its counts say nothing of the list, and are not kept.
    assert (summary["criteo_valid"], summary["criteo_invalid"]) == (None, None)


def test_a_segment_read_again_after_undecodable_text_leaves_nobody_unrecorded(
    table, criteo_conn, criteo_sandbox, monkeypatch, tmp_path
):
    """The first reading's runs went early; people who left before the second reading are removed later."""
    criteo_sandbox.configure(rate_limit_per_minute=UNTHROTTLED)
    monkeypatch.setenv("AIRFLOW__CRITEO__SPILL_LOCATION", str(tmp_path / "spill"))
    monkeypatch.setenv("AIRFLOW__CRITEO__MEMORY_BUDGET_MB", TINY_BUDGET_MB)
    table.load([("vip", f"user{n}@example.com") for n in range(30)])
    stream_columns = reading.stream_columns

    def undecodable_once(*args, tolerant=False, **kwargs):
        if not tolerant:  # the first reading meets text that is not UTF-8, after every row
            yield from stream_columns(*args, **kwargs)
            raise UndecodableTextError()
        table.execute(f"DELETE FROM {table.table} WHERE email IN ({LEAVERS})")  # meanwhile, 10 left
        yield from stream_columns(*args, tolerant=True, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(reading, "stream_columns", undecodable_once)
        first = email_export(table, "vip", chunk_size=10)
    assert first["added"] == 20
    email_export(table, "vip")
    (audience,) = criteo_sandbox.segments()
    assert (
        criteo_sandbox.members(audience["id"], "email") == expected(EMAIL_ONLY, set(range(10, 30)))["email"]
    )


LEAVERS = ", ".join(f"'user{n}@example.com'" for n in range(10))
