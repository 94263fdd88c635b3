"""Defaults of the Criteo connection type. Imports nothing: Airflow reads it while it starts up."""

from __future__ import annotations

CONN_TYPE = "criteo"
DEFAULT_CONN_ID = "criteo_default"
DEFAULT_HOST = "https://api.criteo.com"
DEFAULT_API_VERSION = "2026-07"
