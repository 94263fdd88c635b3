"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from airflow_provider_criteo.sandbox import CriteoSandbox
from tests.helpers import criteo_connection_json
from tests.warehouse import postgres_warehouse, sqlite_warehouse, warehouse

__all__ = ["postgres_warehouse", "sqlite_warehouse", "warehouse"]  # fixtures shared with every test

if TYPE_CHECKING:
    from collections.abc import Iterator


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
