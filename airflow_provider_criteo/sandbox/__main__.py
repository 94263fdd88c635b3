"""``python -m airflow_provider_criteo.sandbox``: same as the ``criteo-sandbox`` command."""

from __future__ import annotations

from airflow_provider_criteo.sandbox.server import main

main()
