"""Overlapping tries, lost or damaged state, many workers: the audience never drifts quietly.

Each scenario is one of issue 14's, reproduced: it ends with the audience equal to the segment after
the next ordinary run, or with a loud failure that says what to do (and that run then heals it).
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from contextlib import closing
from types import SimpleNamespace

import pytest

from airflow_provider_criteo.client.transport import CriteoTransport
from airflow_provider_criteo.exceptions import (
    CriteoConfigurationError,
    LeaseLostError,
    SnapshotCorruptError,
)
from airflow_provider_criteo.hooks.criteo import CriteoHook
from airflow_provider_criteo.operators.erase import CriteoEraseOperator
from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID
from airflow_provider_criteo.sync.protocol import peek
from airflow_provider_criteo.sync.snapshots import SnapshotKey, SnapshotStore
from tests.helpers import fail_amendments_after, segment_export, sha

MEMBERS = [f"member{i}@example.com" for i in range(40)]
TI = SimpleNamespace(dag_id="criteo", run_id="scheduled__1", task_id="export", map_index=0, xcom_push=dict)
OTHER_RUN = SimpleNamespace(
    dag_id="criteo", run_id="scheduled__2", task_id="export", map_index=0, xcom_push=dict
)


@pytest.fixture
def segment(sqlite_warehouse):
    sqlite_warehouse.load([("vip", a) for a in MEMBERS])
    return sqlite_warehouse


def export(warehouse, **kwargs):
    arguments = {
        "batch_size": 4,
        "hook_params": {"retry_backoff": 0.01, "timeout": 5},
        "min_audience_size": 1,
    }
    return segment_export(warehouse, **(arguments | kwargs))


def set_members(warehouse, addresses) -> None:
    warehouse.execute(f"DELETE FROM {warehouse.table}")
    warehouse.load([("vip", a) for a in addresses])


def audience(sandbox) -> set[str]:
    (segment,) = sandbox.segments()
    return sandbox.members(segment["id"])


def patches(sandbox) -> list:
    return [r for r in sandbox.requests if r.method == "PATCH" and r.path.endswith("/contact-list")]


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def start_first_try(warehouse) -> tuple[threading.Thread, dict[str, object]]:
    """Run the task instance's first try in a thread named ``first-try``; its outcome lands in the dict."""
    outcome: dict[str, object] = {}

    def first_try() -> None:
        try:
            outcome["first"] = export(warehouse).execute(context={"ti": TI})
        except Exception as err:
            outcome["first"] = err

    thread = threading.Thread(target=first_try, name="first-try")
    thread.start()
    return thread, outcome


def hold_back_first_try(monkeypatch) -> tuple[threading.Event, threading.Event]:
    """Hold the first try's amendments after their lease check passed: set, then wait to ``land``."""
    on_its_way, land = threading.Event(), threading.Event()
    attempt = CriteoTransport._attempt

    def held_back(self, method, endpoint, params, payload, headers, budget):
        if threading.current_thread().name == "first-try" and method == "PATCH":
            on_its_way.set()
            land.wait(30)
        return attempt(self, method, endpoint, params, payload, headers, budget)

    monkeypatch.setattr(CriteoTransport, "_attempt", held_back)
    return on_its_way, land


# --- 1. overlapping tries ------------------------------------------------------------------------------


def test_a_retry_started_while_the_first_try_still_uploads_fences_it_out(
    segment, criteo_conn, criteo_sandbox
):
    export(segment).execute(context={"ti": TI})
    set_members(segment, MEMBERS[10:] + [f"new{i}@example.com" for i in range(20)])
    criteo_sandbox.configure(latency=0.2)
    criteo_sandbox.clear_requests()
    thread, outcome = start_first_try(segment)
    wait_for(lambda: len(patches(criteo_sandbox)) >= 2)
    set_members(segment, MEMBERS[15:] + [f"new{i}@example.com" for i in range(10)])  # changed again
    export(segment).execute(context={"ti": TI})  # the retry, same task instance, while the try runs
    thread.join()
    criteo_sandbox.configure(latency=0.0)
    assert isinstance(outcome["first"], LeaseLostError), outcome
    assert "was taken over" in str(outcome["first"])
    export(segment).execute(context={"ti": TI})  # the next ordinary run
    assert audience(criteo_sandbox) == {
        sha(a) for a in MEMBERS[15:] + [f"new{i}@example.com" for i in range(10)]
    }


def test_a_request_of_a_fenced_out_try_that_lands_after_the_retry_committed_is_healed(
    segment, criteo_conn, criteo_sandbox, monkeypatch
):
    """The old try's request was on its way (its lease check passed) when the retry took over and
    committed: the retry folded the old try's intent once, so the next run still knows who it may have
    added, and removes them."""
    export(segment).execute(context={"ti": TI})
    late = "late@example.com"
    set_members(segment, [*MEMBERS, late])
    on_its_way, land = hold_back_first_try(monkeypatch)
    thread, outcome = start_first_try(segment)
    assert on_its_way.wait(30)
    set_members(segment, MEMBERS)  # the late member left before the retry
    export(segment).execute(context={"ti": TI})  # the retry: fences the try out, commits
    land.set()  # the old try's add reaches Criteo only now
    thread.join()
    assert isinstance(outcome["first"], LeaseLostError), outcome
    assert sha(late) in audience(criteo_sandbox)
    export(segment).execute(context={"ti": TI})  # the next ordinary run
    assert audience(criteo_sandbox) == {sha(a) for a in MEMBERS}


def test_an_erasure_keeps_what_a_fenced_out_try_may_still_add(
    segment, criteo_conn, criteo_sandbox, monkeypatch
):
    """A person who withdrew consent, erased while a fenced-out try's add of them is on its way."""
    export(segment).execute(context={"ti": TI})
    withdrew = "withdrew@example.com"
    set_members(segment, [*MEMBERS, withdrew])
    on_its_way, land = hold_back_first_try(monkeypatch)
    thread, outcome = start_first_try(segment)
    assert on_its_way.wait(30)
    set_members(segment, MEMBERS)
    export(segment).execute(context={"ti": TI})  # the retry: fences the try out, folds its intent once
    segment.execute("CREATE TABLE erasure_requests (email TEXT)")
    segment.execute(f"INSERT INTO erasure_requests VALUES ('{withdrew}')")
    CriteoEraseOperator(
        task_id="erase", sql_conn_id=segment.conn_id, table="erasure_requests", audit_table="erasure_audit"
    ).execute(context={})
    land.set()  # the try's add of the erased person reaches Criteo only now
    thread.join()
    assert isinstance(outcome["first"], LeaseLostError), outcome
    assert sha(withdrew) in audience(criteo_sandbox)
    export(segment).execute(context={"ti": OTHER_RUN})  # the next ordinary run
    assert audience(criteo_sandbox) == {sha(a) for a in MEMBERS}


def test_a_takeover_between_a_commit_and_its_intent_deletion_leaves_no_false_damage(
    segment, criteo_conn, criteo_sandbox, monkeypatch
):
    """The try committed, then paused (a slow fsync, a GC pause) before it deleted its intent; its retry
    took over meanwhile. Neither a false "intent missing" nor a lock file rewritten by the fenced-out
    try may keep the next runs out."""
    export(segment).execute(context={"ti": TI})
    set_members(segment, MEMBERS[5:])
    committed, go_on = threading.Event(), threading.Event()
    create = SnapshotStore.create_exclusive

    def paused_after_commit(self, key, name, data):
        made = create(self, key, name, data)
        if threading.current_thread().name == "first-try" and name.startswith("v") and made:
            committed.set()
            go_on.wait(30)
        return made

    monkeypatch.setattr(SnapshotStore, "create_exclusive", paused_after_commit)
    thread, _ = start_first_try(segment)
    assert committed.wait(30)
    set_members(segment, MEMBERS[6:])
    export(segment).execute(context={"ti": TI})  # the retry
    go_on.set()
    thread.join()
    export(segment).execute(context={"ti": OTHER_RUN})  # not locked out by 0.1's lock file
    set_members(segment, MEMBERS[7:])
    export(segment).execute(context={"ti": TI})  # and no intent reported missing
    assert audience(criteo_sandbox) == {sha(a) for a in MEMBERS[7:]}


PAUSED_EXPORT = textwrap.dedent(
    """
    from types import SimpleNamespace
    from airflow_provider_criteo.operators.segment_export import SegmentExportOperator

    ti = SimpleNamespace(
        dag_id="criteo", run_id="scheduled__1", task_id="export", map_index=0, xcom_push=dict
    )
    SegmentExportOperator(
        task_id="export", segment="vip", sql_conn_id="warehouse", sql={sql!r},
        parameters={{"segment": "vip"}}, batch_size=4, min_audience_size=1,
    ).execute(context={{"ti": ti}})
    """
)


def test_a_holder_paused_past_its_lease_stops_when_it_resumes(
    segment, criteo_conn, criteo_sandbox, monkeypatch
):
    export(segment).execute(context={"ti": TI})
    set_members(segment, MEMBERS[10:] + [f"new{i}@example.com" for i in range(20)])
    criteo_sandbox.configure(latency=0.2)
    criteo_sandbox.clear_requests()
    env = dict(os.environ, AIRFLOW__CRITEO__LEASE_SECONDS="2")
    paused = subprocess.Popen(
        [sys.executable, "-c", PAUSED_EXPORT.format(sql=segment.segment_sql)],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: len(patches(criteo_sandbox)) >= 2)
        paused.send_signal(signal.SIGSTOP)
        time.sleep(3)  # past the 2-second lease
        criteo_sandbox.configure(latency=0.0)
        set_members(segment, MEMBERS[20:])
        other_run = SimpleNamespace(
            dag_id="criteo", run_id="manual__2", task_id="export", map_index=0, xcom_push=dict
        )
        with monkeypatch.context() as patch:
            patch.setenv("AIRFLOW__CRITEO__LEASE_SECONDS", "2")
            export(segment).execute(context={"ti": other_run})  # takes the lapsed lease over
        sent_before_resuming = len(patches(criteo_sandbox))
        paused.send_signal(signal.SIGCONT)
        _, stderr = paused.communicate(timeout=60)
    finally:
        paused.kill()
    assert paused.returncode != 0
    assert "LeaseLostError" in stderr
    assert "stopped sending" in stderr
    assert len(patches(criteo_sandbox)) - sent_before_resuming <= 1  # at most the request on its way
    export(segment).execute(context={"ti": TI})
    assert audience(criteo_sandbox) == {sha(a) for a in MEMBERS[20:]}


def test_a_heartbeat_that_cannot_be_written_fails_the_run(segment, criteo_conn, criteo_sandbox, monkeypatch):
    export(segment).execute(context={"ti": TI})
    set_members(segment, MEMBERS[10:])
    criteo_sandbox.configure(latency=0.2)
    monkeypatch.setenv("AIRFLOW__CRITEO__LEASE_SECONDS", "1")
    write_atomic = SnapshotStore.write_atomic
    before = len(patches(criteo_sandbox))

    def volume_full_for_fences(self, key, name, data):  # once this run is sending: its heartbeat fails
        if name.startswith("fence-") and len(patches(criteo_sandbox)) > before:
            raise OSError(28, "No space left on device")
        return write_atomic(self, key, name, data)

    with monkeypatch.context() as patch:
        patch.setattr(SnapshotStore, "write_atomic", volume_full_for_fences)
        with pytest.raises(LeaseLostError, match=r"could not be renewed .*No space left"):
            export(segment).execute(context={"ti": TI})
    criteo_sandbox.configure(latency=0.0)
    export(segment).execute(context={"ti": TI})  # the task's retry takes its lists back at once
    assert audience(criteo_sandbox) == {sha(a) for a in MEMBERS[10:]}


# --- 2. damaged or deleted state -------------------------------------------------------------------


def state_key(summary) -> SnapshotKey:
    return SnapshotKey(DEFAULT_ADVERTISER_ID, summary["audience_id"])


def test_a_deleted_newest_snapshot_is_refused_and_one_replace_heals(segment, criteo_conn, criteo_sandbox):
    first = export(segment).execute(context={})
    set_members(segment, MEMBERS[:30])
    export(segment).execute(context={})
    store = SnapshotStore.from_config()
    store.remove(state_key(first), "v00000002.snap")  # "inspect or delete it", as 0.1's advice said
    set_members(segment, MEMBERS[:25])
    with pytest.raises(SnapshotCorruptError, match=r"version 2 .* is missing .*sync_mode='replace'"):
        export(segment).execute(context={})
    export(segment, sync_mode="replace").execute(context={})
    assert audience(criteo_sandbox) == {sha(a) for a in MEMBERS[:25]}
    export(segment).execute(context={})  # and mirror trusts the state again
    assert audience(criteo_sandbox) == {sha(a) for a in MEMBERS[:25]}


def test_a_deleted_intent_after_a_crash_is_refused_and_one_replace_heals(
    segment, criteo_conn, criteo_sandbox, monkeypatch
):
    first = export(segment).execute(context={})
    set_members(segment, MEMBERS[12:] + [f"new{i}@example.com" for i in range(12)])
    with monkeypatch.context() as patch:
        fail_amendments_after(patch, 2, RuntimeError("worker killed"))
        with pytest.raises(RuntimeError):
            export(segment).execute(context={})
    store = SnapshotStore.from_config()
    (intent,) = peek(store, state_key(first)).intents
    store.remove(state_key(first), intent.name)
    with pytest.raises(SnapshotCorruptError, match=f"Intent {intent.name} .* is missing"):
        export(segment).execute(context={})
    export(segment, sync_mode="replace").execute(context={})
    assert audience(criteo_sandbox) == {
        sha(a) for a in MEMBERS[12:] + [f"new{i}@example.com" for i in range(12)]
    }


# --- 3. per-worker snapshots ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("executor", "pod"),
    [
        ("CeleryExecutor", ""),
        ("KubernetesExecutor", ""),
        ("LocalExecutor,CeleryExecutor", ""),
        ("LocalExecutor", "True"),  # a task pod of the official Helm chart
    ],
)
def test_the_default_local_location_is_refused_where_tasks_run_on_other_machines(
    segment, criteo_conn, criteo_sandbox, monkeypatch, executor, pod
):
    monkeypatch.delenv("AIRFLOW__CRITEO__SNAPSHOT_LOCATION")
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executor)
    monkeypatch.setenv("AIRFLOW_IS_K8S_EXECUTOR_POD", pod)
    with pytest.raises(CriteoConfigurationError, match=r"\[criteo\] snapshot_location"):
        export(segment).execute(context={})
    assert criteo_sandbox.requests == []  # before anything, even the token


def test_a_shared_location_is_fine_on_a_distributed_executor(
    segment, criteo_conn, criteo_sandbox, monkeypatch
):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    export(segment).execute(context={})  # snapshot_location is set (to this test's folder)
    assert audience(criteo_sandbox) == {sha(a) for a in MEMBERS}


# --- 4. another DAG ---------------------------------------------------------------------------------


def test_a_copied_dag_cannot_take_another_export_s_audience(segment, criteo_conn, criteo_sandbox):
    export(segment).execute(context={"ti": TI})
    copy = SimpleNamespace(
        dag_id="criteo_copy", run_id="manual__1", task_id="export_other", map_index=-1, xcom_push=dict
    )
    set_members(segment, MEMBERS[:26])
    for mode in ("replace", "mirror"):
        with pytest.raises(CriteoConfigurationError, match=r"managed by another export \(criteo/export\)"):
            export(segment, sync_mode=mode).execute(context={"ti": copy})
    assert audience(criteo_sandbox) == {sha(a) for a in MEMBERS}
    export(segment, sync_mode="replace", adopt_existing_audience=True).execute(context={"ti": copy})
    assert audience(criteo_sandbox) == {sha(a) for a in MEMBERS[:26]}
    (segment_,) = criteo_sandbox.segments()
    assert "criteo_copy/export_other" in segment_["attributes"]["description"]


# --- 6. a finished sync is not reported failed --------------------------------------------------------


def test_statistics_criteo_fails_to_give_do_not_fail_a_finished_export(segment, criteo_conn, criteo_sandbox):
    criteo_sandbox.inject_fault(path="statistics", status=503, count=50)
    summary = export(segment, hook_params={"retry_backoff": 0.01, "max_retries": 1}).execute(context={})
    assert audience(criteo_sandbox) == {sha(a) for a in MEMBERS}
    assert summary["audience_size"] is None
    assert "could not be read" in summary["statistics_note"]
    assert summary["snapshot_version"] == 1


# --- 7. plaintext in an error ------------------------------------------------------------------------------


def test_text_that_is_not_utf8_is_counted_not_quoted(
    sqlite_warehouse, criteo_conn, criteo_sandbox, caplog, capfd
):
    sqlite_warehouse.load([("vip", a) for a in MEMBERS[:5]])
    # 'jörg.müller@example.com' written in Latin-1 into a TEXT column
    latin1 = "jörg.müller@example.com".encode("latin-1").hex()
    sqlite_warehouse.execute(
        f"INSERT INTO {sqlite_warehouse.table} VALUES ('vip', CAST(X'{latin1}' AS TEXT))"
    )
    with caplog.at_level(logging.INFO):
        summary = export(sqlite_warehouse).execute(context={})
    assert summary["rejected_by_reason"] == {"not_text": 1}
    assert audience(criteo_sandbox) == {sha(a) for a in MEMBERS[:5]}
    logged = caplog.text + "".join(capfd.readouterr())
    assert "ller@example" not in logged
    assert "rg.m" not in logged
    assert "not UTF-8" in logged


def test_a_driver_error_while_fetching_is_raised_without_its_message(
    sqlite_warehouse, criteo_conn, monkeypatch
):
    sqlite_warehouse.load([("vip", "ann@example.com")])

    class Leaky(sqlite3.Cursor):
        def fetchmany(self, size=0):
            raise sqlite3.DataError("value 'ann@example.com' is out of range")

    class LeakyConnection(sqlite3.Connection):
        def cursor(self, *args, **kwargs):
            return Leaky(self)

    connect = sqlite3.connect
    monkeypatch.setattr(
        sqlite3, "connect", lambda *args, **kwargs: connect(*args, **kwargs, factory=LeakyConnection)
    )
    with pytest.raises(CriteoConfigurationError) as err:
        export(sqlite_warehouse).execute(context={})
    assert "sqlite3.DataError" in str(err.value)
    assert "ann@example.com" not in str(err.value)
    assert err.value.__cause__ is None
    assert err.value.__suppress_context__


# --- the drift check ---------------------------------------------------------------------------------


def test_members_added_outside_the_export_are_reported_as_drift(segment, criteo_conn, criteo_sandbox, capfd):
    first = export(segment, history_table="criteo_export_history").execute(context={})
    CriteoHook().add_identifiers(first["audience_id"], [sha(f"stranger{i}@example.com") for i in range(5)])
    summary = export(segment, history_table="criteo_export_history").execute(context={})
    if criteo_sandbox.state.settings.schema_minimal:  # Criteo gives no count: nothing to compare
        assert (summary["drift"], summary["criteo_count_before"]) == (None, None)
        return
    assert (summary["drift"], summary["criteo_count_before"]) == (5, 45)
    assert f"Audience {first['audience_id']} drifted from its mirror state" in "".join(capfd.readouterr())
    assert len(audience(criteo_sandbox)) == 45  # warn only: Criteo's counts may lag
    with closing(segment.connect()) as db:
        drifts = [
            row[0] for row in db.execute("SELECT drift FROM criteo_export_history ORDER BY exported_at")
        ]
    assert drifts == [None, 5]


def test_on_drift_replace_heals_the_audience(segment, criteo_conn, criteo_sandbox):
    first = export(segment).execute(context={})
    CriteoHook().add_identifiers(first["audience_id"], [sha(f"stranger{i}@example.com") for i in range(5)])
    summary = export(segment, on_drift="replace").execute(context={})
    if criteo_sandbox.state.settings.schema_minimal:
        assert not summary["audience_wiped"]
        return
    assert summary["audience_wiped"]
    assert audience(criteo_sandbox) == {sha(a) for a in MEMBERS}


@pytest.mark.parametrize("criteo_sandbox", ["full"], indirect=True)
def test_a_count_criteo_has_not_caught_up_with_is_reported_not_wiped(segment, criteo_conn, criteo_sandbox):
    first = export(segment).execute(context={})
    lagging = {"data": {"attributes": {"numberOfIdentifiers": 43, "numberOfMatches": 43, "matchRate": 1.0}}}
    criteo_sandbox.inject_fault(path="statistics", status=200, body=json.dumps(lagging))
    set_members(segment, MEMBERS[:38])
    summary = export(segment).execute(context={})
    assert (summary["drift"], summary["audience_wiped"], summary["removed"]) == (3, False, 2)
    assert audience(criteo_sandbox) == {sha(a) for a in MEMBERS[:38]}
    assert first["drift"] is None  # a new audience: nothing to compare


@pytest.mark.parametrize("criteo_sandbox", ["full"], indirect=True)
def test_identifiers_criteo_refused_when_added_are_not_drift(segment, criteo_conn, criteo_sandbox):
    refusing = {
        "data": {
            "type": "ContactlistAmendment",
            "attributes": {"operation": "add", "nbValidIdentifiers": 2, "nbInvalidIdentifiers": 2},
        }
    }
    criteo_sandbox.inject_fault(
        path="contact-list", method="PATCH", status=200, body=json.dumps(refusing), apply=True
    )
    export(segment).execute(context={})
    counted = {"data": {"attributes": {"numberOfIdentifiers": 38, "numberOfMatches": 38, "matchRate": 1.0}}}
    criteo_sandbox.inject_fault(path="statistics", status=200, body=json.dumps(counted))
    summary = export(segment, on_drift="replace").execute(context={})
    assert (summary["drift"], summary["criteo_count_before"], summary["audience_wiped"]) == (0, 38, False)
