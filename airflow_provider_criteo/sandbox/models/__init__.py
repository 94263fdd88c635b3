"""The emulated world, moto-style: apps and tokens, audience segments and members, the state file."""

from __future__ import annotations

from airflow_provider_criteo.sandbox.models.apps import (
    DEFAULT_ADVERTISER_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    SandboxApp,
    Token,
)
from airflow_provider_criteo.sandbox.models.segments import AudienceSegments, Segment, utc_now
from airflow_provider_criteo.sandbox.models.world import SandboxState

__all__ = [
    "DEFAULT_ADVERTISER_ID",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "AudienceSegments",
    "SandboxApp",
    "SandboxState",
    "Segment",
    "Token",
    "utc_now",
]
