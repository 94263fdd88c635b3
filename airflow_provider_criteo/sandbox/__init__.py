"""A local emulator of Criteo's audience API, for development and tests (like moto for AWS)."""

from __future__ import annotations

from airflow_provider_criteo.sandbox.app import create_app
from airflow_provider_criteo.sandbox.auth import AUDIENCE_MANAGE_SCOPE, AUDIENCE_READ_SCOPE
from airflow_provider_criteo.sandbox.faults import Fault
from airflow_provider_criteo.sandbox.journal import RecordedRequest
from airflow_provider_criteo.sandbox.models import (
    DEFAULT_ADVERTISER_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    SandboxApp,
    SandboxState,
)
from airflow_provider_criteo.sandbox.server import CriteoSandbox, main
from airflow_provider_criteo.sandbox.settings import Settings

__all__ = [
    "AUDIENCE_MANAGE_SCOPE",
    "AUDIENCE_READ_SCOPE",
    "DEFAULT_ADVERTISER_ID",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "CriteoSandbox",
    "Fault",
    "RecordedRequest",
    "SandboxApp",
    "SandboxState",
    "Settings",
    "create_app",
    "main",
]
