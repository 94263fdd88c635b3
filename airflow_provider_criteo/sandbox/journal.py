"""The journal of calls to the emulated API: ``RecordedRequest`` entries, secrets redacted."""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections import deque
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sandbox.auth import TOKEN_PATH

if TYPE_CHECKING:
    from airflow_provider_criteo.sandbox.calls import Call, Outcome

JOURNAL_LIMIT = 10_000
_REDACTED = "<redacted>"


@dataclass(frozen=True)
class RecordedRequest:
    """One call to the emulated API as the journal keeps it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int | None
    body: Any
    response: Any
    trace_id: str
    client_id: str | None
    fault: bool
    timestamp: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


class Journal:
    """The last :data:`JOURNAL_LIMIT` calls, oldest first, guarded by ``lock``."""

    def __init__(self, lock: threading.RLock | None = None) -> None:
        """An empty journal; ``lock`` is shared with the state that owns it."""
        self._lock = lock or threading.RLock()
        self._entries: deque[RecordedRequest] = deque(maxlen=JOURNAL_LIMIT)

    def record(self, entry: RecordedRequest) -> None:
        """Append a call (the oldest one goes when the journal is full)."""
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[RecordedRequest]:
        """A copy of the journal, oldest first."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Empty the journal."""
        with self._lock:
            self._entries.clear()


def recorded_request(
    call: Call, status: int | None, outcome: Outcome | None, *, fault: bool, record_bodies: bool
) -> RecordedRequest:
    """The journal entry of a call: the token and the client secret redacted, bodies only if recorded."""
    token_call = call.path == TOKEN_PATH
    headers = dict(call.headers)
    if "authorization" in headers:
        scheme = headers["authorization"].partition(" ")[0]
        headers["authorization"] = f"{scheme} {_REDACTED}"
    body: Any = None
    response: Any = None
    if record_bodies:
        body = _redacted_form(call.body) if token_call else call.journal_body()
        response = outcome.body if outcome and status is not None else None
        if token_call and isinstance(response, dict) and "access_token" in response:
            response = {**response, "access_token": _REDACTED}
    return RecordedRequest(
        method=call.method,
        path=call.path,
        query=call.query,
        headers=headers,
        status=status,
        body=body,
        response=response,
        trace_id=call.trace_id,
        client_id=outcome.client_id if outcome else None,
        fault=fault,
        timestamp=time.time(),
    )


def _redacted_form(body: bytes) -> dict[str, str]:
    """A token request's form with its client secret redacted."""
    fields = dict(urllib.parse.parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    if "client_secret" in fields:
        fields["client_secret"] = _REDACTED
    return fields
