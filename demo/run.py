"""``scripts/demo``: refresh the demo warehouse and export its segments to a local Criteo emulator.

Everything lives under ``.demo/`` (git-ignored): the SQLite warehouse, Airflow's home (metadata
database, mirror snapshots) and the emulator's state file. A first run creates them; every run then
plays one profile refresh and one export with ``dag.test()`` and prints what the export did, so a second
run shows the export of one refresh's changes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sqlite3
import sys
import time
from typing import TYPE_CHECKING, TextIO

from criteo_examples import HISTORY_TABLE, summary_table

from airflow_provider_criteo.sandbox import CriteoSandbox, SandboxState, Settings
from demo.chart import write_history_chart
from demo.environment import DEMO_DIR, airflow_environment, set_up_airflow
from demo.warehouse import DEFAULT_CUSTOMERS, create_warehouse

if TYPE_CHECKING:
    from collections.abc import Iterator

WAREHOUSE = DEMO_DIR / "warehouse.db"
AIRFLOW_HOME = DEMO_DIR / "airflow"
SANDBOX_STATE = DEMO_DIR / "criteo-sandbox.json"
LOG_FILE = DEMO_DIR / "demo.log"
HISTORY_CHART = DEMO_DIR / "export-history.svg"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scripts/demo", description=__doc__.splitlines()[0])
    parser.add_argument("--reset", action="store_true", help="delete .demo/ first and start from scratch")
    parser.add_argument(
        "--customers",
        type=int,
        default=DEFAULT_CUSTOMERS,
        help="customers in a new warehouse (default %(default)s)",
    )
    return parser


def _say(message: str) -> None:
    print(f"[demo] {message}", flush=True)


@contextlib.contextmanager
def _redirected(log: TextIO) -> Iterator[None]:
    """Send this process's standard output and error (Airflow's logs included) to ``log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


def refresh_number() -> int:
    """How many profile refreshes the demo warehouse has had."""
    with contextlib.closing(sqlite3.connect(WAREHOUSE)) as db:
        return int(db.execute("SELECT MAX(run_number) FROM refresh_runs").fetchone()[0])


def _warehouse_is_current() -> bool:
    """Whether the warehouse has the columns of this version (phone numbers came after e-mails)."""
    with contextlib.closing(sqlite3.connect(WAREHOUSE)) as db:
        return "phone" in {row[1] for row in db.execute("PRAGMA table_info(crm_contacts)")}


def ensure_warehouse(customers: int = DEFAULT_CUSTOMERS) -> None:
    """Create ``.demo/`` and its warehouse unless they exist; replace a warehouse of an older demo."""
    DEMO_DIR.mkdir(exist_ok=True)
    if WAREHOUSE.exists() and not _warehouse_is_current():
        _say(f"{WAREHOUSE} was made by an older demo, without phone numbers: making a new one.")
        WAREHOUSE.unlink()
    if not WAREHOUSE.exists():
        size = create_warehouse(WAREHOUSE, customers=customers)
        _say(f"Created the warehouse {WAREHOUSE}: {size.customers:,} customers, {size.contacts:,} contacts.")


def main(argv: list[str] | None = None) -> int:
    """Run the demo; return the exit status."""
    args = _parser().parse_args(argv)
    started = time.monotonic()
    if args.reset:
        shutil.rmtree(DEMO_DIR, ignore_errors=True)
    ensure_warehouse(args.customers)
    os.environ.update(airflow_environment(AIRFLOW_HOME, WAREHOUSE))
    _say(f"Airflow home {AIRFLOW_HOME} (SQLite); task logs go to {LOG_FILE}.")
    with open(LOG_FILE, "a", encoding="utf-8") as log, _redirected(log):
        set_up_airflow()
        # Airflow reads AIRFLOW_HOME when first imported: only now may its modules be loaded.
        from demo.dag_runs import DagRunFailed, run_dag, task_results

        state = SandboxState(settings=Settings(record_bodies=False))
        with CriteoSandbox(state=state, state_file=SANDBOX_STATE) as sandbox:
            os.environ["AIRFLOW_CONN_CRITEO_DEFAULT"] = json.dumps(sandbox.airflow_connection())
            error: DagRunFailed | None = None
            try:
                run_dag("customer_profile_refresh")
                export = run_dag("criteo_segment_export")
                rows = task_results(export, "log_run_summary")[0]
            except DagRunFailed as failure:
                error = failure
    if error is not None:
        _say(f"{error}: see the task logs in {LOG_FILE}.")
        return 1
    _say(f"Criteo emulator at {sandbox.url} (state kept in {SANDBOX_STATE}), now stopped.")
    _say(f"Profile refresh #{refresh_number()}, then export run {export.run_id}:")
    print(summary_table(rows), flush=True)
    exports = write_history_chart(WAREHOUSE, HISTORY_TABLE, HISTORY_CHART)
    _say(f"Each export appended its summary to the warehouse table {HISTORY_TABLE}; the chart of its")
    _say(f"{exports} exports (audience size and match rate per segment) is {HISTORY_CHART}.")
    _say(f"Done in {time.monotonic() - started:.0f} s. Run scripts/demo again: the next refresh moves a few")
    _say("customers between segments, and the export sends only those changes.")
    return 0
