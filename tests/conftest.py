"""Fixtures shared by the whole test suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from airflow_provider_criteo.client import throttle
from airflow_provider_criteo.client.throttle import RateLimiter
from airflow_provider_criteo.hooks.criteo import CriteoHook
from airflow_provider_criteo.sandbox import CriteoSandbox
from tests.helpers import criteo_connection_json
from tests.openapi_validation import validate_recorded
from tests.warehouse import postgres_warehouse, sqlite_warehouse, warehouse

__all__ = ["postgres_warehouse", "sqlite_warehouse", "warehouse"]  # fixtures shared with every test

if TYPE_CHECKING:
    from collections.abc import Iterator

SANDBOX_TESTS = Path(__file__).parent / "sandbox"


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated Airflow metadata database in the session's AIRFLOW_HOME (SQLite)."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


@pytest.fixture(scope="session")
def criteo_sandbox_server() -> Iterator[CriteoSandbox]:
    """One Criteo emulator on a free loopback port for the whole session."""
    with CriteoSandbox() as sandbox:
        yield sandbox


@pytest.fixture
def criteo_sandbox(criteo_sandbox_server: CriteoSandbox) -> CriteoSandbox:
    """The Criteo emulator with fresh state: default app, no segments, no faults, empty journal."""
    criteo_sandbox_server.reset()
    return criteo_sandbox_server


@pytest.fixture
def criteo_conn(criteo_sandbox: CriteoSandbox, monkeypatch: pytest.MonkeyPatch) -> str:
    """The connection ``criteo_default`` pointing at the sandbox, defined as an environment variable."""
    monkeypatch.setenv("AIRFLOW_CONN_CRITEO_DEFAULT", criteo_connection_json(criteo_sandbox.url))
    return "criteo_default"


@pytest.fixture
def hook(criteo_conn: str) -> CriteoHook:
    """A hook with quick retries and its own limiter, so tests neither wait nor share state."""
    hook = CriteoHook(criteo_conn, timeout=5, retry_backoff=0.01)
    hook.transport.rate_limiter = RateLimiter(1000)
    return hook


@pytest.fixture(autouse=True)
def fresh_rate_limiters(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with an unused client-side rate limit, as the sandbox's limit is reset too."""
    monkeypatch.setattr(throttle, "_shared", {})


@pytest.fixture(autouse=True)
def snapshot_location(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test keeps its mirror snapshots in its own folder (the sandbox reuses audience ids)."""
    location = tmp_path / "snapshots"
    monkeypatch.setenv("AIRFLOW__CRITEO__SNAPSHOT_LOCATION", str(location))
    return location


@pytest.fixture(autouse=True)
def every_exchange_conforms_to_the_spec(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test that used the sandbox, validate every journaled exchange against Criteo's spec.

    Every response is checked, and every request the provider's code sent. The emulator's own tests
    (and tests marked ``off_spec``) send off-spec requests on purpose: there a request is checked when
    the sandbox accepted it (2xx), as the sandbox must never accept what Criteo's schema refuses.
    """
    yield
    if "criteo_sandbox" not in request.fixturenames:
        return
    sandbox: CriteoSandbox = request.getfixturevalue("criteo_sandbox_server")
    on_purpose = request.path.is_relative_to(SANDBOX_TESTS) or request.node.get_closest_marker("off_spec")
    for entry in sandbox.requests:
        if entry.status is not None and entry.response is None:
            continue  # recorded with record_bodies=False
        accepted = entry.status is not None and 200 <= entry.status < 300
        validate_recorded(entry, check_request=not on_purpose or accepted)
