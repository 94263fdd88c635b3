"""Fixtures of the distributed tests: a Criteo emulator at a low rate limit, and a Celery Airflow."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import pytest

from airflow_provider_criteo.sandbox import CriteoSandbox, SandboxState, Settings
from demo.distributed import celery_server, drop_database
from demo.warehouse import create_warehouse

if TYPE_CHECKING:
    from collections.abc import Iterator

    from demo.airflow_server import AirflowServer

CUSTOMERS = 2_000
#: Criteo's 250 calls a minute, scaled down so that one export of every segment needs two windows.
RATE_LIMIT = 30
#: A killed worker's task is found by the scheduler, and its lease on the audience lapses, this soon.
LOST_AFTER_SECONDS = 20


@pytest.fixture(scope="module")
def criteo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CriteoSandbox]:
    """The Criteo emulator every worker calls, at :data:`RATE_LIMIT` calls a minute."""
    with CriteoSandbox(state=SandboxState(settings=Settings(rate_limit_per_minute=RATE_LIMIT))) as sandbox:
        yield sandbox


@pytest.fixture(scope="module")
def celery_airflow(
    tmp_path_factory: pytest.TempPathFactory, criteo: CriteoSandbox
) -> Iterator[AirflowServer]:
    """A distributed Airflow running the example DAGs: PostgreSQL, Redis, two Celery workers."""
    home = tmp_path_factory.mktemp("celery-airflow")
    create_warehouse(home / "warehouse.db", customers=CUSTOMERS)
    database = f"criteo_provider_celery_test_{os.getpid()}"
    server = celery_server(
        home / "airflow",
        home / "warehouse.db",
        database=database,
        settings={
            "AIRFLOW_CONN_CRITEO_DEFAULT": json.dumps(criteo.airflow_connection()),
            "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "2",
            "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "5",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(LOST_AFTER_SECONDS),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
            "AIRFLOW__CRITEO__LEASE_SECONDS": str(LOST_AFTER_SECONDS),
        },
    )
    try:
        server.start()
        for dag_id in ("customer_profile_refresh", "criteo_segment_export"):
            server.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
        yield server
    finally:
        server.stop()
        drop_database(database)
