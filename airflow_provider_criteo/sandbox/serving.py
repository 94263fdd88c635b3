"""One Criteo call through the emulator's steps: injected fault, handler, journal, latency."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from fastapi.responses import Response

from airflow_provider_criteo.sandbox.calls import Call, json_response
from airflow_provider_criteo.sandbox.faults import fault_outcome
from airflow_provider_criteo.sandbox.journal import recorded_request

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request
    from starlette.types import Scope

    from airflow_provider_criteo.sandbox.calls import Outcome
    from airflow_provider_criteo.sandbox.models import SandboxState

TRACE_HEADER = "x-trace-id"
#: Where the ASGI scope keeps the server's own ``send``, so that a fault can drop the connection.
RAW_SEND = "criteo_sandbox.raw_send"


async def serve(
    state: SandboxState, request: Request, handler: Callable[[SandboxState, Call], Outcome]
) -> Response:
    """Run a Criteo call through faults, latency and the journal."""
    call = Call(
        method=request.method,
        path=request.url.path,
        query=dict(request.query_params),
        headers={name.lower(): value for name, value in request.headers.items()},
        body=await request.body(),
        trace_id=uuid.uuid4().hex,
    )
    fault = state.take_fault(call.method, call.path)
    outcome = handler(state, call) if fault is None or fault.executes_request() else None
    delay = state.settings.latency + (fault.delay if fault else 0.0)
    # Journal before waiting: a late answer must not land in the journal after a reset().
    if fault is not None and fault.drop_connection:
        _record(state, call, None, outcome, fault=True)
        await asyncio.sleep(delay)
        await _drop_connection(request.scope)
        return Response(status_code=500)
    if fault is not None and fault.body is not None and fault.status is not None:
        _record(state, call, fault.status, None, fault=True)
        await asyncio.sleep(delay)
        headers = {TRACE_HEADER: call.trace_id}
        return Response(fault.body.encode(), fault.status, headers, media_type=fault.content_type)
    if fault is not None and fault.status is not None:
        outcome = fault_outcome(state, fault, fault.status, call, outcome)
    # A fault that skips the request has a status or drops the connection, so there is an answer now.
    assert outcome is not None
    if fault is not None and fault.status is None:
        outcome.headers.update(fault.headers)  # the real answer, with the fault's headers
    _record(state, call, outcome.status, outcome, fault=fault is not None)
    await asyncio.sleep(delay)
    return json_response(outcome.body, outcome.status, {**outcome.headers, TRACE_HEADER: call.trace_id})


def _record(
    state: SandboxState, call: Call, status: int | None, outcome: Outcome | None, *, fault: bool
) -> None:
    """Journal a call as the current settings say (bodies or not)."""
    state.record(
        recorded_request(call, status, outcome, fault=fault, record_bodies=state.settings.record_bodies)
    )


async def _drop_connection(scope: Scope) -> None:
    """Close the client connection before any byte of the response (uvicorn servers only)."""
    cycle = getattr(scope.get(RAW_SEND), "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("drop_connection faults need the sandbox to run under uvicorn")
    transport.close()
    # Let the server notice the closed connection, so the response returned next is discarded.
    await asyncio.sleep(0)
