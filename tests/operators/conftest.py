"""The operators' end-to-end tests run against the sandbox twice: full answers, and schema-minimal ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_criteo.sandbox import CriteoSandbox


@pytest.fixture(params=["full", "schema-minimal"])
def criteo_sandbox(request: pytest.FixtureRequest, criteo_sandbox_server: CriteoSandbox) -> CriteoSandbox:
    """The Criteo emulator with fresh state, answering in full or with only what the schema guarantees."""
    criteo_sandbox_server.reset()
    criteo_sandbox_server.configure(schema_minimal=request.param == "schema-minimal")
    return criteo_sandbox_server
