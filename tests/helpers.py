"""Helpers shared by the test modules."""

from __future__ import annotations

import bisect
import hashlib
import importlib.util
import json
import os
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from criteo_examples import CRITEO_POOL, WAREHOUSE_CONN_ID

from airflow_provider_criteo.identifiers.email import prepare_email
from airflow_provider_criteo.identifiers.madid import prepare_madid
from airflow_provider_criteo.identifiers.phone import prepare_phone
from airflow_provider_criteo.operators.segment_export import SegmentExportOperator
from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from airflow_provider_criteo.sandbox.rate_limit import RATE_WINDOW_SECONDS
from demo import EXAMPLE_DAGS
from demo.warehouse import create_warehouse

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_criteo.sandbox import CriteoSandbox
    from airflow_provider_criteo.sandbox.journal import RecordedRequest


#: The DAGs the end-to-end tests run with ``dag.test()``.
TEST_DAGS = Path(__file__).parent / "dags"


def load_dag(name: str) -> Any:
    """The DAG ``dag`` of ``tests/dags/<name>.py``, loaded afresh."""
    spec = importlib.util.spec_from_file_location(name, TEST_DAGS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.dag


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


def counted(sandbox: Any, value: Any) -> Any:
    """What Criteo reports of ``value`` (a count, a size, a match rate) as the sandbox answers now.

    The schema-minimal sandbox answers without the optional counts, and with statistics not computed yet.
    """
    return None if sandbox.state.settings.schema_minimal else value


def commit_as_another_run(store: Any, key: Any, members: Any, *, encoding: str | None = None) -> int:
    """Commit ``members`` on top of a list's state as another run would, under its own lease."""
    from airflow_provider_criteo.sync.protocol import hold

    with hold(store, [key], "tests/another-run") as leases:
        snapshot = leases[key].history().snapshot
        version = snapshot.version if snapshot is not None else None
        return leases[key].commit(members, expected_version=version, encoding=encoding)


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


def api_calls(sandbox: CriteoSandbox) -> list[RecordedRequest]:
    """The calls Criteo counts against its rate limit: every journaled one but the token requests."""
    return [call for call in sandbox.requests if call.path != "/oauth2/token"]


def busiest_minute(calls: list[RecordedRequest]) -> int:
    """The most of ``calls`` that reached Criteo within any rolling minute (refused ones included)."""
    stamps = sorted(call.timestamp for call in calls)
    return max(
        (bisect.bisect_left(stamps, start + RATE_WINDOW_SECONDS) - i for i, start in enumerate(stamps)),
        default=0,
    )


def held_audiences(sandbox: CriteoSandbox) -> dict[str, set[str]]:
    """What the emulator holds: the members of each audience, by name."""
    return {s["attributes"]["name"]: sandbox.members(s["id"]) for s in sandbox.segments()}


def demo_audiences(warehouse: str | Path) -> dict[str, set[str]]:
    """Per segment of a demo warehouse, what the example export must leave in its audience.

    Every type the export sends, computed here value by value: the SHA-256 of each valid address and
    Criteo's hashed phone number of each valid phone number (the SHA-256 of its E.164 digits; national
    numbers are French), and each valid mobile ad id.
    """
    audiences: dict[str, set[str]] = {}
    with closing(sqlite3.connect(warehouse)) as db:
        rows = db.execute("SELECT segment, email, phone, mobile_ad_id FROM segment_members").fetchall()
    for segment, email, phone, ad_id in rows:
        members = audiences.setdefault(segment, set())
        for normalized, _ in (prepare_email(email), prepare_phone(phone, region="FR")):
            if normalized is not None:
                members.add(sha(normalized))
        if (madid := prepare_madid(ad_id)[0]) is not None:
            members.add(madid)
    return audiences


def fail_amendments_after(patch: Any, count: int, error: Exception) -> None:
    """Make every contact-list amendment request after the first ``count`` raise ``error`` (a crash)."""
    from airflow_provider_criteo.client.transport import CriteoTransport

    call = CriteoTransport.call
    sent = {"n": 0}

    def failing(self: Any, method: str, path: str, **kwargs: Any) -> Any:
        if method == "PATCH":
            sent["n"] += 1
            if sent["n"] > count:
                raise error
        return call(self, method, path, **kwargs)

    patch.setattr(CriteoTransport, "call", failing)


def run_command(*command: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run a command; fail with its output when it fails; return its standard output."""
    result = subprocess.run(
        [str(part) for part in command], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"{command} exited with {result.returncode}:\n{output}"
    return result.stdout


def clean_airflow_env(home: Path, **settings: str) -> dict[str, str]:
    """The environment of an ``airflow`` command run in a process of its own at ``home``: none of this
    process's Airflow settings, nor its Python path."""
    return {"PATH": os.environ.get("PATH", ""), "AIRFLOW_HOME": str(home), **settings}


def run_demo(
    airflow: Sequence[str | Path], folder: Path, sandbox: CriteoSandbox, customers: int, **settings: str
) -> Path:
    """The demo as a user runs it, in a new Airflow home under ``folder``: a warehouse of ``customers``,
    then ``airflow dags test`` of the profile refresh and of the export (``airflow``: the command,
    ``settings``: more of its environment). Returns the warehouse."""
    warehouse = folder / "warehouse.db"
    create_warehouse(warehouse, customers=customers)
    warehouse_conn = {"conn_type": "sqlite", "host": str(warehouse)}
    env = clean_airflow_env(
        folder / "airflow",
        AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLE_DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_CONN_CRITEO_DEFAULT=json.dumps(sandbox.airflow_connection()),
        **{f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}": json.dumps(warehouse_conn)},
        **settings,
    )
    run_command(*airflow, "db", "migrate", env=env)
    run_command(*airflow, "pools", "set", CRITEO_POOL, "2", "Criteo API calls", env=env)
    for dag_id in ("customer_profile_refresh", "criteo_segment_export"):
        run_command(*airflow, "dags", "test", dag_id, env=env)
    return warehouse
