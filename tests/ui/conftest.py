"""Fixtures of the browser tests: a Criteo emulator, a real Airflow, and Debian's Chromium via Playwright."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import sync_playwright

from airflow_provider_criteo.sandbox import DEFAULT_CLIENT_SECRET, CriteoSandbox, create_app
from airflow_provider_criteo.sandbox import server as sandbox_server
from demo.airflow_server import USERNAME, AirflowServer
from demo.warehouse import create_warehouse
from tests.helpers import load_dag
from tests.ui.careless_criteo import CredentialEcho, TokenRecordingState

if TYPE_CHECKING:
    from collections.abc import Iterator

    from playwright.sync_api import Browser, Page

    from tests.warehouse import Warehouse

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
    """Runs of ``criteo_export_e2e`` by ``dag.test()``: one that exported two segments, then one that
    failed to read its segment."""

    dag_id: str
    exported: str
    failed: str


@pytest.fixture
def export_runs(airflow_db: None, sqlite_warehouse: Warehouse, criteo_conn: str) -> ExportRuns:
    """Two runs of the end-to-end export DAG against the sandbox: a success, then a failure."""
    dag = load_dag("criteo_export_e2e")
    sqlite_warehouse.load(
        [("vip", "ann@example.com"), ("vip", "bob@example.org"), ("churn", "cy@example.net")]
    )
    exported = dag.test(run_conf={"segments": ["vip", "churn"]})
    failed = dag.test(run_conf={"segments": ["vip"], "sql": "SELECT email FROM no_such_table"})
    assert (exported.state, failed.state) == ("success", "failed")
    return ExportRuns(dag.dag_id, exported.run_id, failed.run_id)
