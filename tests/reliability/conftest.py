"""The reliability suite, like the operators' tests, runs against full and schema-minimal answers."""

from __future__ import annotations

from tests.operators.conftest import criteo_sandbox

__all__ = ["criteo_sandbox"]
