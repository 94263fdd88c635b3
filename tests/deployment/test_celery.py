"""The example DAGs on a distributed Airflow: CeleryExecutor, Redis, PostgreSQL, two workers.

Every segment's export is a task that either worker may take; they share Criteo's rate limit (scaled
down here, so that the exports must wait for it) and one snapshot location. The tests share one
deployment: the export the first profile refresh schedules, then a worker killed in the middle of the
next one, then the Criteo view of what they did.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from criteo_examples import SEGMENT_NAMES

from airflow_provider_criteo.identifiers.email import prepare_email
from airflow_provider_criteo.sandbox.rate_limit import RATE_WINDOW_SECONDS
from demo.airflow_server import USERNAME, wait_until
from demo.distributed import WORKERS
from tests.deployment.conftest import LOST_AFTER_SECONDS, RATE_LIMIT
from tests.deployment.runs import RUN_TIMEOUT, export_runs, exports_of, next_export, refresh
from tests.helpers import api_calls, busiest_minute, demo_audiences, held_audiences, sha

if TYPE_CHECKING:
    from pathlib import Path

    from airflow_provider_criteo.sandbox import CriteoSandbox
    from airflow_provider_criteo.sandbox.journal import RecordedRequest
    from demo.airflow_server import AirflowServer

#: Many of its members change at each refresh, so the first amendment of its export adds e-mails.
VICTIM = "recent_buyers"
#: Criteo's answer to the amendment the killed worker waits for: after the retry (heartbeat timeout,
#: then the example DAG's 30 s retry delay) has begun.
ANSWER_AFTER_SECONDS = 3 * LOST_AFTER_SECONDS + 30


def test_every_segment_is_exported_across_both_workers_inside_one_rate_budget(
    celery_airflow: AirflowServer, criteo: CriteoSandbox, first_export: dict[str, Any]
):
    assert first_export["state"] == "success", celery_airflow.logs()
    assert len(SEGMENT_NAMES) >= 6
    assert held_audiences(criteo) == demo_audiences(celery_airflow.warehouse)
    tasks = exports_of(celery_airflow, first_export)
    assert set(tasks) == set(SEGMENT_NAMES)
    assert {ti["hostname"] for ti in tasks.values()} == set(WORKERS)
    # The run had to wait for Criteo's window: more calls than one minute allows, and none refused.
    calls = api_calls(criteo)
    assert len(calls) > RATE_LIMIT
    assert max(call.timestamp for call in calls) - min(call.timestamp for call in calls) > RATE_WINDOW_SECONDS
    assert [call.path for call in calls if call.status == 429] == []
    assert busiest_minute(calls) <= RATE_LIMIT
    # Every audience's mirror state is in the one shared location, none under a worker's own folders.
    shared = celery_airflow.home / "shared" / "snapshots"
    assert {path.name for path in shared.rglob("*") if path.is_file()}
    for worker in WORKERS:
        assert not [path for path in (celery_airflow.home / worker).rglob("*") if path.is_file()]
    assert not (celery_airflow.home / "criteo").exists()


def test_a_worker_killed_in_the_middle_of_an_export_is_healed_by_the_retry_on_the_other(
    celery_airflow: AirflowServer, criteo: CriteoSandbox, first_export: dict[str, Any]
):
    (audience,) = [s["id"] for s in criteo.segments() if s["attributes"]["name"] == VICTIM]
    amendments = f"{audience}/contact-list"
    # Criteo applies the victim's next amendment, then takes longer to answer than the worker lives.
    criteo.inject_fault(path=amendments, method="PATCH", delay=ANSWER_AFTER_SECONDS)
    before = refresh(celery_airflow)

    amendment = wait_until(
        lambda: next(
            (call for call in criteo.requests if call.path.endswith(amendments) and call.fault), None
        ),
        RUN_TIMEOUT,
        f"an amendment of {VICTIM} to reach Criteo",
    )
    killed = exports_of(celery_airflow, export_runs(celery_airflow)[before])[VICTIM]
    assert killed["state"] == "running"
    celery_airflow.kill(killed["hostname"])
    # Someone the dead try added leaves the segment before the retry reads it: only the dead try's
    # intent tells the retry that this person may be in the audience, and must now be removed.
    left = added_address(amendment)
    leave_segment(celery_airflow.warehouse, VICTIM, left)

    run = next_export(celery_airflow, before=before)
    assert run["state"] == "success", celery_airflow.logs()
    retried = exports_of(celery_airflow, run)[VICTIM]
    assert retried["try_number"] == 2
    assert retried["hostname"] != killed["hostname"]
    held = held_audiences(criteo)
    assert held == demo_audiences(celery_airflow.warehouse)
    assert left not in held[VICTIM]


def added_address(amendment: RecordedRequest) -> str:
    """One hashed address that an amendment added (the test needs it to be an addition of e-mails)."""
    attributes = amendment.body["data"]["attributes"]
    assert (attributes["operation"], attributes["identifierType"]) == ("add", "email")
    return attributes["identifiers"][0]


def leave_segment(warehouse: Path, segment: str, digest: str) -> None:
    """Take the profiles whose address hashes to ``digest`` out of ``segment``, as a refresh would."""
    with closing(sqlite3.connect(warehouse)) as db, db:
        rows = db.execute("SELECT customer_id, email FROM segment_members WHERE segment = ?", (segment,))
        leaving = [(segment, customer) for customer, email in rows if _digest(email) == digest]
        assert leaving
        db.executemany("DELETE FROM segment_members WHERE segment = ? AND customer_id = ?", leaving)


def _digest(email: str | None) -> str | None:
    """The identifier Criteo holds for an address, or None for one that is not sent."""
    normalized, _ = prepare_email(email)
    return None if normalized is None else sha(normalized)


def test_the_criteo_view_reads_the_exports_from_postgres(
    celery_airflow: AirflowServer, criteo: CriteoSandbox, first_export: dict[str, Any]
):
    # The metadata database is PostgreSQL here (XComs as JSONB): the view lists every audience with its
    # last export, the run the kill test retried, and the members Criteo holds.
    (last, *_) = reversed(export_runs(celery_airflow))
    celery_airflow.api("GET", "/version")  # signs the admin in
    page = celery_airflow.sessions[USERNAME].get(f"{celery_airflow.url}/criteo/", timeout=30)
    assert page.status_code == 200
    rows = page.text.split("<tr>")[2:]  # after the heading row
    held = held_audiences(criteo)
    assert len(rows) == len(held)
    for name, members in held.items():
        (row,) = [row for row in rows if f">{name}</a>" in row]
        assert quote(last["dag_run_id"], safe="") in row
        assert f'data-label="Members">{len(members):,}</td>' in row
