"""Fixtures of the distributed tests: a Criteo emulator at a low rate limit, and a Celery Airflow."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_criteo.sandbox import CriteoSandbox, SandboxState, Settings
from demo.distributed import celery_server, drop_database, fresh_database
from demo.warehouse import create_warehouse
from tests.deployment.runs import EXPORT, REFRESH, next_export

if TYPE_CHECKING:
    from collections.abc import Iterator

    from demo.airflow_server import AirflowServer

CUSTOMERS = 2_000
#: Criteo's 250 calls a minute, scaled down so that one export of every segment needs two windows.
RATE_LIMIT = 30
#: A killed worker's task is found by the scheduler this soon (Airflow's default: 300 s).
LOST_AFTER_SECONDS = 20


@pytest.fixture(scope="module")
def criteo() -> Iterator[CriteoSandbox]:
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
        metadata=fresh_database(database),
        settings={
            "AIRFLOW_CONN_CRITEO_DEFAULT": json.dumps(criteo.airflow_connection()),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": str(LOST_AFTER_SECONDS),
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        },
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()
        drop_database(database)


@pytest.fixture(scope="module")
def first_export(celery_airflow: AirflowServer) -> dict[str, Any]:
    """The export run the first profile refresh schedules once the DAGs are un-paused (the refresh is
    ``@daily``: un-pausing it runs it once)."""
    for dag_id in (REFRESH, EXPORT):
        celery_airflow.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})
    return next_export(celery_airflow, before=0)
