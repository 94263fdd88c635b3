"""A real Airflow started from Python: api-server, scheduler and dag-processor on a free port.

It runs the example DAGs with its own ``AIRFLOW_HOME`` (by default a SQLite metadata database and the
LocalExecutor; :mod:`demo.distributed` makes a distributed one), SimpleAuthManager with one known admin,
``[core] test_connection = Enabled`` and the demo warehouse. Each component runs in its own process
group, so stopping it stops the processes it started. The browser and deployment tests drive it, and
``scripts/standalone --celery`` serves it to a person.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import psutil
import requests
from cryptography.fernet import Fernet

from demo import EXAMPLE_DAGS
from demo.environment import airflow_environment, set_up_airflow_with

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

#: The components every deployment runs: its name, and the arguments of ``airflow`` that start it.
COMPONENTS: dict[str, tuple[str, ...]] = {
    "api-server": ("api-server",),
    "scheduler": ("scheduler",),
    "dag-processor": ("dag-processor",),
}
LOCAL_EXECUTOR = {"AIRFLOW__CORE__EXECUTOR": "LocalExecutor", "AIRFLOW__CORE__PARALLELISM": "4"}
USERNAME = "admin"
START_TIMEOUT = 120.0
STOP_TIMEOUT = 20.0
TERMINAL_RUN_STATES = {"success", "failed"}


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.5) -> Any:
    """Poll ``check`` until it returns a truthy value, and return it; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


@dataclass
class AirflowServer:
    """An Airflow started from ``home`` on ``port``, reading the SQLite warehouse ``warehouse``.

    ``settings`` are its executor's and any other settings (environment variables); ``workers`` are
    more components, each with the ``airflow`` arguments that start it and its own settings; ``users``
    are SimpleAuthManager's, each with its role (``viewer``, ``user``, ``op``, ``admin``), the admin's
    password being ``password``. With ``tls`` (a certificate file and its key, see
    :func:`demo.tls.self_signed_certificate`) it serves HTTPS, and its workers trust that certificate.
    """

    home: Path
    warehouse: Path
    port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    settings: dict[str, str] = field(default_factory=lambda: dict(LOCAL_EXECUTOR))
    workers: dict[str, tuple[tuple[str, ...], dict[str, str]]] = field(default_factory=dict)
    users: dict[str, str] = field(default_factory=lambda: {USERNAME: "admin"})
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    tls: tuple[str, str] | None = None

    @property
    def url(self) -> str:
        """The UI's and REST API's base URL."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> str | bool:
        """What a client of the server verifies its certificate with (``requests``' ``verify``)."""
        return self.tls[0] if self.tls else True

    @cached_property
    def env(self) -> dict[str, str]:
        """The components' environment: this process's, less any Airflow setting, plus the server's.

        The keys are set here: components started together would each write a new ``airflow.cfg``
        with keys of their own, and the API server would refuse the scheduler's task tokens.
        """
        passwords = self.home / "passwords.json"
        return {
            **{key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")},
            **airflow_environment(self.home, self.warehouse),
            "AIRFLOW__CORE__AUTH_MANAGER": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                f"{u}:{role}" for u, role in self.users.items()
            ),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": self.url,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(16),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            **self._tls_settings,
            **self.settings,
        }

    @property
    def _tls_settings(self) -> dict[str, str]:
        """The API server's certificate and key; the workers verify the server against the certificate."""
        if self.tls is None:
            return {}
        certificate, key = self.tls
        return {"AIRFLOW__API__SSL_CERT": certificate, "AIRFLOW__API__SSL_KEY": key}

    def start(self) -> None:
        """Set up the metadata database, start every component and wait until the DAGs are parsed."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps(self.passwords))
        set_up_airflow_with(self.env)
        for component, arguments in COMPONENTS.items():
            self._start(component, arguments, self.env)
        for worker, (arguments, settings) in self.workers.items():
            self._start(worker, arguments, self.env | settings)
        wait_until(self._healthy, START_TIMEOUT, f"Airflow to be healthy on {self.url}")
        wait_until(self._dags_parsed, START_TIMEOUT, "the example DAGs to be parsed")
        wait_until(self._workers_ready, START_TIMEOUT, "the workers to be ready")

    def _start(self, component: str, arguments: tuple[str, ...], env: dict[str, str]) -> None:
        """Start ``airflow <arguments>`` in a process group of its own, its output in ``<component>.log``."""
        log = open(self.home / f"{component}.log", "wb")  # noqa: SIM115 (kept open while it runs)
        self.processes[component] = subprocess.Popen(
            [sys.executable, "-m", "airflow", *arguments],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self, component: str) -> None:
        """Kill a component and every process it started at once (SIGKILL), as a lost machine would.

        Its descendants are killed by pid as well: Airflow's task supervisor puts each task process in a
        process group of its own.
        """
        process = self.processes[component]
        descendants = _descendants(process)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        _kill(descendants)
        process.wait()

    def stop(self) -> None:
        """Stop every component and the processes it started, even those that left its process group
        (Airflow's task supervisor puts each task process in a group of its own)."""
        descendants = [child for process in self.processes.values() for child in _descendants(process)]
        for process in self.processes.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        _kill(descendants)

    def logs(self) -> str:
        """The tail of each component's output, to explain a failure."""
        tails = [
            f"--- {c}.log\n{(self.home / f'{c}.log').read_text(errors='replace')[-3000:]}"
            for c in self.processes
        ]
        return "\n".join(tails)

    # -------------------------------------------------------------------------------- REST API

    @cached_property
    def passwords(self) -> dict[str, str]:
        """Every user's password: the admin's is ``password``, the others' are drawn at random."""
        return {user: self.password if user == USERNAME else secrets.token_urlsafe(12) for user in self.users}

    @cached_property
    def sessions(self) -> dict[str, requests.Session]:
        """HTTP sessions, one per user that called the API, each holding a JWT from ``/auth/token``."""
        return {}

    def request_as(self, user: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the REST API (``/api/v2`` + ``path``) as ``user``, whatever the answer."""
        if user not in self.sessions:
            token = requests.post(
                f"{self.url}/auth/token",
                verify=self.verify,
                json={"username": user, "password": self.passwords[user]},
                timeout=30,
            )
            token.raise_for_status()
            self.sessions[user] = requests.Session()
            self.sessions[user].headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        # verify per request: a session's own is overridden by REQUESTS_CA_BUNDLE, where it is set.
        url = f"{self.url}/api/v2{path}"
        return self.sessions[user].request(method, url, timeout=30, verify=self.verify, **kwargs)

    def api(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the REST API (``/api/v2`` + ``path``) as the admin; fail on an error status."""
        response = self.request_as(USERNAME, method, path, **kwargs)
        if not response.ok:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
        return response

    def dag_runs(self, dag_id: str, **filters: Any) -> list[dict[str, Any]]:
        """The runs of a DAG, oldest first."""
        params = {"order_by": "run_after", **filters}
        return self.api("GET", f"/dags/{dag_id}/dagRuns", params=params).json()["dag_runs"]

    def wait_for_run(
        self, dag_id: str, timeout: float = 180.0, *, after: int = 0, **filters: Any
    ) -> dict[str, Any]:
        """Wait for the first run matching ``filters`` after the first ``after`` of them to finish; return
        it (state ``success`` or not)."""

        def finished() -> dict[str, Any] | None:
            runs = self.dag_runs(dag_id, **filters)[after:]
            return runs[0] if runs and runs[0]["state"] in TERMINAL_RUN_STATES else None

        what = f"run #{after + 1} of {dag_id} matching {filters} to finish"
        return wait_until(finished, timeout, what, interval=1.0)

    def task_log(
        self, dag_id: str, run_id: str, task_id: str, map_index: int = -1, try_number: int = 1
    ) -> str:
        """A task instance's log as the UI reads it: one JSON line per entry, every field included."""
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        content = self.api("GET", path, params={"map_index": map_index}).json()["content"]
        return "\n".join(json.dumps(entry, ensure_ascii=False) for entry in content)

    def _healthy(self) -> bool:
        try:
            health = requests.get(f"{self.url}/api/v2/monitor/health", timeout=5, verify=self.verify).json()
        except (requests.ConnectionError, ValueError):
            self._check_running()
            return False
        return all(
            health.get(part, {}).get("status") == "healthy"
            for part in ("metadatabase", "scheduler", "dag_processor")
        )

    def _dags_parsed(self) -> bool:
        self._check_running()
        dags = self.api("GET", "/dags", params={"tags": "example"}).json()
        errors = self.api("GET", "/importErrors").json()
        return dags["total_entries"] == len(list(EXAMPLE_DAGS.glob("*.py"))) or errors["total_entries"] > 0

    def _workers_ready(self) -> bool:
        """Whether every worker said it is ready (Celery logs ``<name>@<host> ready.``)."""
        self._check_running()
        logs = {worker: (self.home / f"{worker}.log").read_text(errors="replace") for worker in self.workers}
        return all(re.search(rf"{re.escape(worker)}@\S+ ready\.", log) for worker, log in logs.items())

    def _check_running(self) -> None:
        for component, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"airflow {component} exited with {process.returncode}:\n{self.logs()}")


def _descendants(process: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """Every process a component started, whatever its process group; none once it has exited."""
    try:
        return psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _kill(processes: list[psutil.Process]) -> None:
    """SIGKILL each process still running."""
    for child in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.send_signal(signal.SIGKILL)
