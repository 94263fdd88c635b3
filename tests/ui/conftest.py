"""Fixtures of tests/ui: a Criteo emulator, a real Airflow, Debian's Chromium, and export runs."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import sync_playwright

from airflow_provider_criteo.sandbox import DEFAULT_CLIENT_SECRET, CriteoSandbox, create_app
from airflow_provider_criteo.sandbox import server as sandbox_server
from airflow_provider_criteo.ui import history
from demo.airflow_server import USERNAME, AirflowServer
from demo.warehouse import create_warehouse
from tests.helpers import criteo_connection_json, load_dag
from tests.ui.careless_criteo import CredentialEcho, TokenRecordingState

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page


CHROMIUM = "/usr/bin/chromium"  # Debian's, installed by scripts/services: nothing downloads a browser
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CUSTOMERS = 600
#: Who works on the exports, as the README's "Who may use the connection" maps Customer Insights' roles
#: to SimpleAuthManager's: the admin, a data engineer who manages connections, a marketer who runs
#: exports, an analyst who reads their results.
USERS = {USERNAME: "admin", "data_engineer": "op", "marketer": "user", "analyst": "viewer"}


@pytest.fixture(scope="module")
def ui_sandbox() -> Iterator[CriteoSandbox]:
    """The Criteo emulator the browser-driven Airflow talks to (in this process, on a free port).

    It records the access tokens it issues and echoes credentials in warnings (:class:`CredentialEcho`).
    """
    sandbox = CriteoSandbox(state=TokenRecordingState())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            sandbox_server,
            "create_app",
            lambda state: CredentialEcho(create_app(state), DEFAULT_CLIENT_SECRET),
        )
        sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="module")
def airflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AirflowServer]:
    """A real Airflow running the example DAGs on a fresh demo warehouse; stopped after the module."""
    home = tmp_path_factory.mktemp("airflow-ui")
    warehouse = home / "warehouse.db"
    create_warehouse(warehouse, customers=CUSTOMERS)
    server = AirflowServer(home / "airflow", warehouse, users=USERS)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium; a missing browser fails the tests (run scripts/services as root)."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, airflow_server: AirflowServer) -> Iterator[Page]:
    """A fresh browser tab, logged in to Airflow as the admin."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=airflow_server.url)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto("/")
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(airflow_server.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{airflow_server.url}/")
    yield page
    context.close()


@dataclass(frozen=True)
class ExportRuns:
    """Runs of ``criteo_export_e2e`` by ``dag.test()``: one that exported three segments, then one that
    failed to read its segment; and the audiences the sandbox held after them, by name."""

    dag_id: str
    exported: str
    failed: str
    audience_ids: dict[str, str]


#: The segments of the exporting run, in map-index order (one with a ``/`` in its name).
EXPORTED = ["vip", "churn", "eu/vip"]


@pytest.fixture(scope="module")
def export_runs(
    airflow_db: None, criteo_sandbox_server: CriteoSandbox, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ExportRuns]:
    """Two runs of the end-to-end export DAG against the sandbox, once per module: a success, then a
    failure. The connections ``warehouse`` and ``criteo_default`` stay defined for the module."""
    criteo_sandbox_server.reset()
    warehouse = tmp_path_factory.mktemp("warehouse") / "warehouse.db"
    with closing(sqlite3.connect(warehouse)) as db, db:
        db.execute("CREATE TABLE segment_members (segment TEXT, email TEXT)")
        rows = [("vip", "ann@example.com"), ("vip", "bob@example.org"), ("churn", "cy@example.net")]
        db.executemany("INSERT INTO segment_members VALUES (?, ?)", [*rows, ("eu/vip", "di@example.eu")])
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AIRFLOW_CONN_WAREHOUSE", json.dumps({"conn_type": "sqlite", "host": str(warehouse)}))
        patch.setenv("AIRFLOW_CONN_CRITEO_DEFAULT", criteo_connection_json(criteo_sandbox_server.url))
        # The sandbox reuses audience ids: the module's mirror state lives in a folder of its own.
        patch.setenv("AIRFLOW__CRITEO__SNAPSHOT_LOCATION", str(warehouse.parent / "snapshots"))
        dag = load_dag("criteo_export_e2e")
        exported = dag.test(run_conf={"segments": EXPORTED})
        failed = dag.test(run_conf={"segments": ["vip"], "sql": "SELECT email FROM no_such_table"})
        assert (exported.state, failed.state) == ("success", "failed")
        held = {s["attributes"]["name"]: s["id"] for s in criteo_sandbox_server.segments()}
        yield ExportRuns(dag.dag_id, exported.run_id, failed.run_id, held)


@pytest.fixture(autouse=True)
def fresh_history_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test reads the history table afresh: the view's minute of caching would hide its rows."""
    monkeypatch.setattr(history, "_CACHE", {})
