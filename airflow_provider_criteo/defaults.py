"""Defaults of the Criteo connection type and hook. Imports nothing: Airflow reads it while it starts up."""

from __future__ import annotations

CONN_TYPE = "criteo"
DEFAULT_CONN_ID = "criteo_default"
DEFAULT_HOST = "https://api.criteo.com"
DEFAULT_API_VERSION = "2026-07"
# Criteo's rate limit of one app: calls per rolling minute.
DEFAULT_CALLS_PER_MINUTE = 250
