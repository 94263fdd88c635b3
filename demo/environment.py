"""The demo's Airflow: its settings as environment variables, and the set-up of its metadata database.

Imports nothing from Airflow at module level: Airflow reads ``AIRFLOW_HOME`` when it is first imported,
so a process sets the environment from here first.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

from criteo_examples import CRITEO_POOL, CRITEO_POOL_SLOTS, WAREHOUSE_CONN_ID

from demo import EXAMPLE_DAGS, REPO

if TYPE_CHECKING:
    from pathlib import Path

DEMO_DIR = REPO / ".demo"


def airflow_environment(home: Path, warehouse: Path) -> dict[str, str]:
    """Settings of an Airflow at ``home`` running the example DAGs on the SQLite warehouse ``warehouse``."""
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(EXAMPLE_DAGS),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CRITEO__SNAPSHOT_LOCATION": str(home / "criteo" / "snapshots"),
        f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}": json.dumps(
            {"conn_type": "sqlite", "host": str(warehouse)}
        ),
    }


def set_up_airflow() -> None:
    """Create or upgrade this process's metadata database and create the pool of Criteo API calls."""
    from airflow.models.pool import Pool
    from airflow.utils.db import upgradedb

    upgradedb()
    Pool.create_or_update_pool(
        CRITEO_POOL,
        slots=CRITEO_POOL_SLOTS,
        description="Bounds concurrent Criteo exports inside the app's 250 calls per minute",
        include_deferred=False,
    )


def set_up_airflow_with(env: dict[str, str]) -> None:
    """Run :func:`set_up_airflow` in a new process with the environment ``env``."""
    subprocess.run([sys.executable, "-m", "demo.environment"], env=env, cwd=REPO, check=True)


if __name__ == "__main__":
    set_up_airflow()
