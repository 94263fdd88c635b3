"""Faults during an export: each run ends with the audience equal to the segment, or fails clearly
and the next run converges. Nothing is lost, nothing duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING

import pytest

from airflow_provider_criteo.sandbox import CriteoSandbox
from tests.helpers import api_calls, busiest_minute, criteo_connection_json, segment_export, sha

if TYPE_CHECKING:
    from airflow_provider_criteo.operators.segment_export import SegmentExportOperator

MEMBERS = [f"member{i}@example.com" for i in range(40)]
BATCH = 4  # 10 amendment requests for 40 members: faults land in the middle of an export


@pytest.fixture
def segment(sqlite_warehouse):
    sqlite_warehouse.load([("vip", a) for a in MEMBERS])
    return sqlite_warehouse


def export(warehouse, **kwargs) -> SegmentExportOperator:
    return segment_export(
        warehouse, **({"batch_size": BATCH, "hook_params": {"retry_backoff": 0.01, "timeout": 2}} | kwargs)
    )


def holds_exactly(sandbox, addresses) -> bool:
    (audience,) = sandbox.segments()
    return sandbox.members(audience["id"]) == {sha(a) for a in addresses}


def patches(sandbox) -> list:
    return [r for r in sandbox.requests if r.method == "PATCH" and r.path.endswith("/contact-list")]


@pytest.mark.parametrize("retry_after", [None, 1])
def test_429_storm_mid_export(segment, criteo_conn, criteo_sandbox, retry_after):
    reset = {"x-ratelimit-reset": str(int(time.time()) + 1)}
    criteo_sandbox.inject_fault(
        path="contact-list", status=429, count=6, headers=reset, retry_after=retry_after
    )
    summary = export(segment).execute(context={})
    assert summary["added"] == 40
    assert holds_exactly(criteo_sandbox, MEMBERS)
    assert [r.status for r in patches(criteo_sandbox)].count(429) == 6


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_burst_mid_export(segment, criteo_conn, criteo_sandbox, status):
    criteo_sandbox.inject_fault(path="contact-list", status=status, count=3)
    export(segment).execute(context={})
    assert holds_exactly(criteo_sandbox, MEMBERS)


@pytest.mark.parametrize("executed", [False, True], ids=["before-execution", "response-lost"])
def test_connection_reset_mid_batch(segment, criteo_conn, criteo_sandbox, executed):
    criteo_sandbox.inject_fault(path="contact-list", drop_connection=True, apply=executed, count=2)
    summary = export(segment).execute(context={})
    assert holds_exactly(criteo_sandbox, MEMBERS)
    assert summary["added"] == 40


def test_read_timeout_mid_batch(segment, criteo_conn, criteo_sandbox):
    criteo_sandbox.inject_fault(path="contact-list", delay=3.0, count=1)  # executed, answered too late
    export(segment).execute(context={})
    assert holds_exactly(criteo_sandbox, MEMBERS)


def test_token_expiring_mid_export(segment, criteo_conn, criteo_sandbox):
    criteo_sandbox.configure(token_lifetime=1, latency=0.15)
    export(segment).execute(context={})
    criteo_sandbox.configure(token_lifetime=900, latency=0.0)
    assert holds_exactly(criteo_sandbox, MEMBERS)
    assert len([r for r in criteo_sandbox.requests if r.path == "/oauth2/token"]) >= 2


def test_a_token_revoked_mid_export(segment, criteo_conn, criteo_sandbox):
    criteo_sandbox.inject_fault(path="contact-list", status=401, count=1)
    export(segment).execute(context={})
    assert holds_exactly(criteo_sandbox, MEMBERS)


def test_the_api_restarting_mid_export(segment, tmp_path, monkeypatch):
    """The emulator stops and comes back on the same port, its state kept on disk, tokens lost."""
    state_file = tmp_path / "sandbox.json"
    sandbox = CriteoSandbox(state_file=state_file).start()
    port = sandbox.port
    monkeypatch.setenv("AIRFLOW_CONN_CRITEO_DEFAULT", criteo_connection_json(sandbox.url))
    sandbox.configure(latency=0.1, record_bodies=False)
    restarted = threading.Event()

    def restart_after_three_batches() -> None:
        while len(patches(sandbox)) < 3:
            time.sleep(0.01)
        sandbox.stop()
        time.sleep(0.5)
        replacement = CriteoSandbox(port=port, state_file=state_file).start()
        replacement.configure(record_bodies=False)
        restarted.replacement = replacement  # type: ignore[attr-defined]
        restarted.set()

    thread = threading.Thread(target=restart_after_three_batches)
    thread.start()
    try:
        export(segment, hook_params={"retry_backoff": 0.2, "timeout": 2}).execute(context={})
        thread.join()
        assert restarted.is_set()
        assert holds_exactly(restarted.replacement, MEMBERS)  # type: ignore[attr-defined]
    finally:
        thread.join()
        if restarted.is_set():
            restarted.replacement.stop()  # type: ignore[attr-defined]


KILLED_EXPORT = textwrap.dedent(
    """
    from types import SimpleNamespace
    from airflow_provider_criteo.operators.segment_export import SegmentExportOperator

    ti = SimpleNamespace(
        dag_id="criteo", run_id="scheduled__1", task_id="export", map_index=0, xcom_push=dict
    )
    SegmentExportOperator(
        task_id="export", segment="vip", sql_conn_id="warehouse", sql={sql!r},
        parameters={{"segment": "vip"}}, batch_size={batch}, max_profiles={max_profiles},
    ).execute(context={{"ti": ti}})
    """
)


@pytest.mark.parametrize("streamed", [False, True], ids=["read-first", "streamed"])
def test_worker_killed_mid_export_then_retried(
    segment, criteo_conn, criteo_sandbox, monkeypatch, tmp_path, streamed
):
    """SIGKILL leaves the lock and an intent behind; the task's retry takes both over and converges.

    Streamed, the killed run was sending its new audience's sorted runs while it read (a budget of a
    few keys, no cap): it also leaves its spill folder, which the retry removes.
    """
    spill = tmp_path / "spill"
    if streamed:
        monkeypatch.setenv("AIRFLOW__CRITEO__MEMORY_BUDGET_MB", str(100 / 2**20))
        monkeypatch.setenv("AIRFLOW__CRITEO__SPILL_LOCATION", str(spill))
    criteo_sandbox.configure(latency=0.2)
    script = KILLED_EXPORT.format(
        sql=segment.segment_sql, batch=BATCH, max_profiles=None if streamed else 1_000_000
    )
    worker = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while len(patches(criteo_sandbox)) < 3 and time.monotonic() < deadline and worker.poll() is None:
            time.sleep(0.01)
        worker.send_signal(signal.SIGKILL)
    finally:
        worker.wait()
    assert worker.returncode == -signal.SIGKILL
    assert 3 <= len(patches(criteo_sandbox)) < 10  # killed in the middle
    criteo_sandbox.configure(latency=0.0)

    # Before the retry, the profiles are refreshed: two members the killed run already sent leave.
    sent = {
        i
        for r in patches(criteo_sandbox)
        if r.status == 200
        for i in r.body["data"]["attributes"]["identifiers"]
    }
    leaving = [a for a in MEMBERS if sha(a) in sent][:2]
    segment.execute(f"DELETE FROM segment_members WHERE email IN ('{leaving[0]}', '{leaving[1]}')")
    ti = SimpleNamespace(
        dag_id="criteo", run_id="scheduled__1", task_id="export", map_index=0, xcom_push=dict
    )
    if streamed:
        assert len(os.listdir(spill)) == 1  # the killed run's spill folder
    summary = export(segment).execute(context={"ti": ti})
    assert holds_exactly(criteo_sandbox, [a for a in MEMBERS if a not in leaving])
    assert summary["snapshot_version"] == 1
    if streamed:
        assert os.listdir(spill) == []  # removed by the retry


# Pacing does not depend on the answers' shape, and the test spends a minute of wall time: once is enough.
@pytest.mark.parametrize("criteo_sandbox", ["full"], indirect=True)
def test_eight_concurrent_exports_share_one_apps_rate_limit(sqlite_warehouse, criteo_conn, criteo_sandbox):
    """Eight segments at once against a 40 calls/minute app: none fails, Criteo never refuses a call."""
    limit = 40
    segments = [f"segment{i}" for i in range(8)]
    sqlite_warehouse.load([(s, f"{s}-{n}@example.com") for s in segments for n in range(8)])
    criteo_sandbox.configure(rate_limit_per_minute=limit)
    results: dict[str, object] = {}

    def run(name: str) -> None:
        try:
            results[name] = export(
                sqlite_warehouse,
                task_id=name,
                segment=name,
                parameters={"segment": name},
                batch_size=4,
                hook_params={"calls_per_minute": limit, "retry_backoff": 0.01},
            ).execute(context={})
        except Exception as err:
            results[name] = err

    threads = [threading.Thread(target=run, args=(name,)) for name in segments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(r, dict) for r in results.values()), results
    calls = api_calls(criteo_sandbox)
    assert len(calls) > limit  # the run needed more than one window
    assert [r.status for r in calls].count(429) == 0
    assert busiest_minute(calls) <= limit
    for name in segments:
        (audience,) = criteo_sandbox.segments() and [
            s for s in criteo_sandbox.segments() if s["attributes"]["name"] == name
        ]
        assert criteo_sandbox.members(audience["id"]) == {sha(f"{name}-{n}@example.com") for n in range(8)}
