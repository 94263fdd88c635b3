"""A distributed Airflow on this machine: the CeleryExecutor, Redis as its broker, PostgreSQL as its
metadata database, and two Celery workers that share nothing but what a real deployment shares.

Each worker has its own host name (what Airflow records as the task instance's ``hostname``), its own
temporary and spill folders, and the one shared ``[criteo] snapshot_location``, given as an
``ObjectStoragePath`` URL as an object store would be. ``scripts/standalone --celery`` serves it to a
person; ``tests/deployment`` runs the example DAGs through it.
"""

from __future__ import annotations

import os
import secrets
import socket
from contextlib import closing
from typing import TYPE_CHECKING

from demo import REPO
from demo.airflow_server import AirflowServer, free_port

if TYPE_CHECKING:
    from pathlib import Path

POSTGRES = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}
BROKER = "redis://127.0.0.1:6379/0"
WORKERS = ("worker-a", "worker-b")
#: The environment variable that names a worker to :func:`worker_hostname`.
WORKER_NAME = "CRITEO_DEMO_WORKER"


def worker_hostname() -> str:
    """The host name Airflow records for a task: the worker's own name, as two machines would differ.

    ``[core] hostname_callable`` points here; outside a demo worker it is the machine's name.
    """
    return os.environ.get(WORKER_NAME) or socket.getfqdn()


def fresh_database(name: str) -> str:
    """Create (or empty) the PostgreSQL database ``name``; return its SQLAlchemy URL."""
    drop_database(name)
    _administer(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg2://{POSTGRES['user']}@{POSTGRES['host']}:{POSTGRES['port']}/{name}"


def drop_database(name: str) -> None:
    """Drop the PostgreSQL database ``name`` if it exists, closing its connections first."""
    _administer("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
    _administer(f'DROP DATABASE IF EXISTS "{name}"')


def _administer(statement: str, parameters: tuple[str, ...] = ()) -> None:
    """Run one statement on the server's ``postgres`` database, outside any transaction."""
    import psycopg2

    with closing(psycopg2.connect(dbname="postgres", **POSTGRES)) as admin:
        admin.autocommit = True
        with admin.cursor() as cursor:
            cursor.execute(statement, parameters)


def celery_server(
    home: Path,
    warehouse: Path,
    *,
    metadata: str,
    workers: tuple[str, ...] = WORKERS,
    port: int | None = None,
    snapshots: Path | None = None,
    settings: dict[str, str] | None = None,
) -> AirflowServer:
    """An Airflow at ``home`` on ``port`` (a free one by default) whose tasks run on Celery ``workers``,
    its metadata in the database at the SQLAlchemy URL ``metadata`` (see :func:`fresh_database`).

    Its tasks go to a queue of its own, so that another deployment's workers on the same broker never
    take them. Every worker keeps its mirror state in ``snapshots`` (``home/shared/snapshots`` by
    default). ``settings`` are added to (or override) every component's.
    """
    queue = f"criteo-{secrets.token_hex(4)}"
    snapshots = snapshots or home / "shared" / "snapshots"
    common = {
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
        "AIRFLOW__CELERY__BROKER_URL": BROKER,
        "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
        # The one location every worker reads and writes, as an object store would be.
        "AIRFLOW__CRITEO__SNAPSHOT_LOCATION": snapshots.as_uri(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        **(settings or {}),
    }
    return AirflowServer(
        home,
        warehouse,
        port=port or free_port(),
        settings=common,
        workers={
            name: (_worker_command(name, queue), _worker_settings(home / name, name)) for name in workers
        },
    )


def _worker_command(name: str, queue: str) -> tuple[str, ...]:
    """``airflow celery worker`` for one worker: one task at a time, its own name, no log server.

    The workers' logs land in the one ``$AIRFLOW_HOME/logs`` that the api-server reads, so neither
    serves them (two log servers would also compete for one port).
    """
    return (
        "celery", "worker", "--celery-hostname", f"{name}@%h", "--concurrency", "1",
        "--queues", queue, "--skip-serve-logs", "--without-gossip", "--without-mingle",
    )  # fmt: skip


def _worker_settings(folder: Path, name: str) -> dict[str, str]:
    """What one worker has of its own: its name, and its temporary and spill folders."""
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    return {
        WORKER_NAME: name,
        "TMPDIR": str(folder / "tmp"),
        "AIRFLOW__CRITEO__SPILL_LOCATION": str(folder / "tmp"),
    }
