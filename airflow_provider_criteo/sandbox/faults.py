"""Fault injection: what ``inject_fault`` records, how a request finds its fault, and the answer it makes."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from airflow_provider_criteo.sandbox.auth import TOKEN_PATH, oauth_fault_body
from airflow_provider_criteo.sandbox.calls import Outcome, problem_outcome
from airflow_provider_criteo.sandbox.checks import is_integer, non_negative_number
from airflow_provider_criteo.sandbox.problems import status_problem

if TYPE_CHECKING:
    from airflow_provider_criteo.sandbox.calls import Call
    from airflow_provider_criteo.sandbox.models import SandboxState

#: A 429 fault says a call may succeed again this many seconds later.
_FAULT_RESET_SECONDS = 2


@dataclass
class Fault:
    """A failure to inject into the next ``count`` requests whose path contains ``path``."""

    path: str = ""
    method: str | None = None
    status: int | None = None
    count: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: int | None = None
    delay: float = 0.0
    drop_connection: bool = False
    apply: bool = False
    #: A raw answer instead of Criteo's (a proxy's HTML page, malformed JSON...), with ``status``.
    body: str | None = None
    content_type: str = "application/json"

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request."""
        return self.path in path and (self.method is None or self.method == method)

    def executes_request(self) -> bool:
        """Whether the real request runs: always with ``apply``, for a pure delay and for headers only."""
        return self.apply or (self.status is None and not self.drop_connection)


def checked_fault(fault: Fault) -> Fault:
    """``fault`` as asked for, normalised; refused when it is malformed or could not change an answer."""
    status, body = fault.status, fault.body
    if status is not None and not is_integer(status):
        raise TypeError("status must be an integer")
    if body is not None and (status is None or not 200 <= status <= 599):
        raise ValueError("a raw body needs a status between 200 and 599")
    if body is None and status is not None and not 400 <= status <= 599:
        raise ValueError("status must be an HTTP error status (400-599)")
    if not is_integer(fault.count) or fault.count < 1:
        raise ValueError("count must be a positive integer")
    if fault.retry_after is not None and not is_integer(fault.retry_after):
        raise TypeError("retry_after must be an integer number of seconds")
    delay = non_negative_number("delay", fault.delay)
    if status is None and not fault.drop_connection and delay == 0 and not fault.headers:
        raise ValueError("a fault needs a status, a delay, headers or drop_connection")
    if fault.apply and status is None and not fault.drop_connection:
        raise ValueError("apply=True needs a status or drop_connection to fail the executed request")
    return replace(
        fault,
        method=fault.method.upper() if fault.method else None,
        delay=delay,
        drop_connection=bool(fault.drop_connection),
        apply=bool(fault.apply),
        body=None if body is None else str(body),
        content_type=str(fault.content_type),
    )


class FaultQueue:
    """The injected faults waiting for their requests, oldest first, guarded by ``lock``."""

    def __init__(self, lock: threading.RLock | None = None) -> None:
        """No fault queued; ``lock`` is shared with the state that owns the queue."""
        self._lock = lock or threading.RLock()
        self._faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        """Queue a fault after the others."""
        with self._lock:
            self._faults.append(fault)

    def take(self, method: str, path: str) -> Fault | None:
        """The first queued fault matching a request, consuming one of its uses."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def clear(self) -> None:
        """Drop every queued fault."""
        with self._lock:
            self._faults.clear()


def fault_outcome(
    state: SandboxState, fault: Fault, status: int, call: Call, executed: Outcome | None
) -> Outcome:
    """The answer of a status fault, keeping the caller's client id when the request was executed."""
    detail = f"Injected sandbox fault ({status})."
    client_id = executed.client_id if executed else None
    oauth_body = oauth_fault_body(status, detail) if call.path == TOKEN_PATH else None
    if oauth_body is not None:
        outcome = Outcome(status, oauth_body, {}, client_id)
    else:
        rate_headers = {} if call.path == TOKEN_PATH else state.peek_rate(client_id).headers()
        if status == 429:
            rate_headers.update(
                {
                    "x-ratelimit-remaining": "0",
                    "x-ratelimit-reset": str(int(time.time()) + _FAULT_RESET_SECONDS),
                }
            )
        outcome = problem_outcome(
            status_problem(status, detail), call, rate_headers, minimal=state.settings.schema_minimal
        )
        outcome.client_id = client_id
    if fault.retry_after is not None:
        outcome.headers["retry-after"] = str(fault.retry_after)
    outcome.headers.update(fault.headers)
    return outcome
