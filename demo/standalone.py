"""``scripts/standalone``: ``airflow standalone`` on the demo's Airflow home, with the demo wired in.

The dags folder is ``example_dags/``, the warehouse and Criteo connections are defined (the Criteo one
points at an emulator this process serves on ``--sandbox-port``, its state kept in ``.demo/``) and the
``criteo_api`` pool exists. With ``--celery``, the distributed deployment of :mod:`demo.distributed`
instead: PostgreSQL (database ``criteo_demo_airflow``), Redis and two Celery workers. Stop it with
Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from airflow_provider_criteo.sandbox import CriteoSandbox, SandboxState, Settings
from demo.airflow_server import USERNAME
from demo.distributed import WORKERS, celery_server, fresh_database
from demo.environment import DEMO_DIR, airflow_environment, set_up_airflow
from demo.run import AIRFLOW_HOME, SANDBOX_STATE, WAREHOUSE, ensure_warehouse

CELERY_DATABASE = "criteo_demo_airflow"


def main(argv: list[str] | None = None) -> int:
    """Serve the emulator and run ``airflow standalone`` until Ctrl-C; return its exit status."""
    parser = argparse.ArgumentParser(prog="scripts/standalone", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="Airflow UI port (default %(default)s)")
    parser.add_argument(
        "--sandbox-port", type=int, default=8089, help="Criteo emulator port (default %(default)s)"
    )
    parser.add_argument(
        "--celery",
        action="store_true",
        help="a distributed Airflow: CeleryExecutor, two workers, Redis, PostgreSQL (see docs/deploying.md)",
    )
    args = parser.parse_args(argv)
    ensure_warehouse()
    if args.celery:
        return serve_celery(args.port, args.sandbox_port)
    os.environ |= airflow_environment(AIRFLOW_HOME, WAREHOUSE) | {
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(args.port),
        "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{args.port}",
        # airflow standalone starts its components as "airflow ...": the one of this virtual environment.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    set_up_airflow()
    state = SandboxState(settings=Settings(record_bodies=False))
    with CriteoSandbox(port=args.sandbox_port, state=state, state_file=SANDBOX_STATE) as sandbox:
        os.environ["AIRFLOW_CONN_CRITEO_DEFAULT"] = json.dumps(sandbox.airflow_connection())
        print(
            f"Criteo emulator on {sandbox.url}; Airflow UI on http://127.0.0.1:{args.port} (user admin, "
            f"password printed below or in {AIRFLOW_HOME}/simple_auth_manager_passwords.json.generated).",
            flush=True,
        )
        airflow = subprocess.Popen([sys.executable, "-m", "airflow", "standalone"])
        try:
            return airflow.wait()
        except KeyboardInterrupt:  # Ctrl-C reached airflow standalone too: let it stop its components
            return airflow.wait()


def serve_celery(port: int, sandbox_port: int) -> int:
    """Serve the emulator and a Celery Airflow (:func:`demo.distributed.celery_server`) until Ctrl-C."""
    state = SandboxState(settings=Settings(record_bodies=False))
    with CriteoSandbox(port=sandbox_port, state=state, state_file=SANDBOX_STATE) as sandbox:
        server = celery_server(
            DEMO_DIR / "celery",
            WAREHOUSE,
            metadata=fresh_database(CELERY_DATABASE),
            port=port,
            snapshots=AIRFLOW_HOME / "criteo" / "snapshots",  # scripts/demo's: the audiences are the same
            settings={"AIRFLOW_CONN_CRITEO_DEFAULT": json.dumps(sandbox.airflow_connection())},
        )
        try:
            server.start()
            print(
                f"Criteo emulator on {sandbox.url}; Airflow UI on {server.url} (user {USERNAME}, password "
                f"{server.password}); workers {', '.join(WORKERS)}; logs in {server.home}. Ctrl-C stops.",
                flush=True,
            )
            stop = {signal.SIGINT, signal.SIGTERM}
            signal.pthread_sigmask(signal.SIG_BLOCK, stop)
            signal.sigwait(stop)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
