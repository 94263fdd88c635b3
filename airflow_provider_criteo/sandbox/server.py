"""Run the emulator: ``CriteoSandbox`` (uvicorn in a background thread) and the ``criteo-sandbox`` CLI."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

import uvicorn

from airflow_provider_criteo.sandbox.app import create_app
from airflow_provider_criteo.sandbox.models import (
    DEFAULT_ADVERTISER_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    SandboxState,
)
from airflow_provider_criteo.sandbox.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType, TracebackType

    from airflow_provider_criteo.sandbox.journal import RecordedRequest

DEFAULT_API_VERSION = "2026-07"
_START_TIMEOUT = 10.0
_STOP_TIMEOUT = 10.0


class CriteoSandbox:
    """A local Criteo API on ``url``, serving ``state``; a context manager, or ``start()``/``stop()``.

    ``tls`` is an optional (certificate file, key file) pair: the sandbox then serves HTTPS.
    ``schema_minimal`` makes it answer only what Criteo's OpenAPI guarantees (see
    :mod:`airflow_provider_criteo.sandbox.minimal`); ``configure(schema_minimal=...)`` changes it later.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        state: SandboxState | None = None,
        state_file: str | os.PathLike[str] | None = None,
        log_level: str = "warning",
        tls: tuple[str, str] | None = None,
        schema_minimal: bool = False,
    ) -> None:
        """Serve ``state`` (a fresh one by default); ``state_file`` is loaded at start, saved at stop."""
        self.host = host
        self.port = port
        self.state = state or SandboxState(settings=Settings(schema_minimal=schema_minimal))
        if schema_minimal:
            self.state.configure(schema_minimal=True)
        self.state_file = state_file
        self.log_level = log_level
        self.tls = tls
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.add_app = self.state.add_app
        self.configure = self.state.configure
        self.inject_fault = self.state.inject_fault
        self.expire_tokens = self.state.expire_tokens
        self.approve = self.state.approve
        self.revoke_consent = self.state.revoke_consent
        self.expire_refresh_tokens = self.state.expire_refresh_tokens
        self.set_read_only = self.state.set_read_only
        self.segments = self.state.segments
        self.members = self.state.members
        self.clear_requests = self.state.clear_requests
        self.reset = self.state.reset

    @property
    def url(self) -> str:
        """The base URL, e.g. ``http://127.0.0.1:54321`` (the real port once started)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        scheme = "https" if self.tls else "http"
        return f"{scheme}://[{host}]:{self.port}" if ":" in host else f"{scheme}://{host}:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """The journal of API calls, oldest first."""
        return self.state.requests

    def start(self) -> CriteoSandbox:
        """Load the state file if any, bind the port and serve in a background thread."""
        if self._server is not None:
            raise RuntimeError("the sandbox is already running")
        if self.state_file is not None and os.path.exists(self.state_file):
            self.state.load(self.state_file)
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._socket = socket.create_server((self.host, self.port), family=family)
        self.port = self._socket.getsockname()[1]
        certfile, keyfile = self.tls or (None, None)
        config = uvicorn.Config(
            create_app(self.state),
            log_level=self.log_level,
            lifespan="off",
            access_log=False,
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
        )
        server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [self._socket]}, name="criteo-sandbox", daemon=True
        )
        self._server = server
        self._thread.start()
        deadline = time.monotonic() + _START_TIMEOUT
        while not server.started and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not server.started:
            self.stop()
            raise RuntimeError(f"the Criteo sandbox did not start on {self.host}:{self.port}")
        return self

    def stop(self) -> None:
        """Stop serving and write the state file if any."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(_STOP_TIMEOUT)
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None
        if self.state_file is not None:
            self.state.save(self.state_file)

    def __enter__(self) -> CriteoSandbox:
        """Start the sandbox."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the sandbox."""
        self.stop()

    def airflow_connection(
        self,
        client_id: str = DEFAULT_CLIENT_ID,
        advertiser_id: str = DEFAULT_ADVERTISER_ID,
        api_version: str = DEFAULT_API_VERSION,
    ) -> dict[str, Any]:
        """An Airflow ``criteo`` connection (JSON form) pointing at this sandbox for a registered app."""
        app = self.state.apps[client_id]
        return {
            "conn_type": "criteo",
            "host": self.url,
            "login": app.client_id,
            "password": app.client_secret,
            "extra": {
                "advertiser_id": advertiser_id,
                "api_version": api_version,
                "data_transfer_consent": True,
            },
        }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="criteo-sandbox", description="Run a local emulator of Criteo's audience API."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8089, help="port to listen on, 0 for any (default 8089)")
    parser.add_argument("--client-id", default=DEFAULT_CLIENT_ID, help="client id of the default app")
    parser.add_argument(
        "--client-secret", default=DEFAULT_CLIENT_SECRET, help="client secret of the default app"
    )
    parser.add_argument(
        "--advertiser-id", default=DEFAULT_ADVERTISER_ID, help="advertiser of the default app"
    )
    parser.add_argument("--state-file", help="JSON file loaded at start and saved at shutdown")
    parser.add_argument("--token-lifetime", type=float, default=900.0, help="access token lifetime, seconds")
    parser.add_argument("--rate-limit", type=int, default=250, help="calls per rolling minute per app")
    parser.add_argument(
        "--schema-minimal",
        action="store_true",
        help="answer only what Criteo's OpenAPI guarantees: optional fields left out, nullable ones null, no "
        "search meta, per-item failures in warnings (a client must survive all of it)",
    )
    parser.add_argument(
        "--pending-statistics",
        action="store_true",
        help="answer contact-list statistics as before Criteo has matched a list: every count null",
    )
    parser.add_argument(
        "--record-bodies",
        action="store_true",
        help="keep request and response bodies in the journal (off: a long-running sandbox would hold every "
        "uploaded identifier in memory)",
    )
    parser.add_argument("--log-level", default="info", help="uvicorn log level (default info)")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """The ``criteo-sandbox`` command: serve until Ctrl-C or SIGTERM."""
    args = _parser().parse_args(argv)
    settings = Settings(
        token_lifetime=args.token_lifetime,
        rate_limit_per_minute=args.rate_limit,
        record_bodies=args.record_bodies,
        schema_minimal=args.schema_minimal,
        pending_statistics=args.pending_statistics,
    )
    state = SandboxState(args.client_id, args.client_secret, args.advertiser_id, settings=settings)
    sandbox = CriteoSandbox(
        args.host, args.port, state=state, state_file=args.state_file, log_level=args.log_level
    )
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        sandbox.start()
        # A state file may hold other apps; the command-line app is always there.
        state.add_app(args.client_id, args.client_secret, advertiser_ids=(args.advertiser_id,))
        connection = json.dumps(sandbox.airflow_connection(args.client_id, args.advertiser_id))
        print(f"Criteo sandbox listening on {sandbox.url}", flush=True)
        print(f"export AIRFLOW_CONN_CRITEO_DEFAULT='{connection}'", flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        while not stopping.is_set():
            stopping.wait(0.5)
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("Criteo sandbox stopped.", file=sys.stderr, flush=True)
