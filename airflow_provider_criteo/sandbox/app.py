"""The emulator as an ASGI application: Criteo's API, ``/oauth2/token`` and the ``/_sandbox`` routes.

Every Criteo call runs through the same steps here: injected fault, handler, journal, latency.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.responses import Response

from airflow_provider_criteo.sandbox.auth import TOKEN_PATH
from airflow_provider_criteo.sandbox.calls import Call, json_response
from airflow_provider_criteo.sandbox.control import add_control_routes
from airflow_provider_criteo.sandbox.dispatch import handle_api
from airflow_provider_criteo.sandbox.faults import fault_outcome
from airflow_provider_criteo.sandbox.journal import recorded_request
from airflow_provider_criteo.sandbox.responses import handle_token

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request
    from starlette.types import Receive, Scope, Send

    from airflow_provider_criteo.sandbox.calls import Outcome
    from airflow_provider_criteo.sandbox.models import SandboxState

TRACE_HEADER = "x-trace-id"
_RAW_SEND = "criteo_sandbox.raw_send"
_EVERY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class SandboxApplication(FastAPI):
    """FastAPI, keeping the server's own ``send`` so a fault can drop the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        scope[_RAW_SEND] = send
        await super().__call__(scope, receive, send)


def create_app(state: SandboxState) -> FastAPI:
    """The emulator serving ``state``: Criteo's API, ``/oauth2/token`` and ``/_sandbox/...``."""
    app = SandboxApplication(
        title="Criteo sandbox", docs_url=None, redoc_url=None, openapi_url=None, redirect_slashes=False
    )
    app.state.sandbox = state
    add_control_routes(app, state)

    async def token(request: Request) -> Response:
        return await _serve(state, request, handle_token)

    async def api(request: Request) -> Response:
        return await _serve(state, request, handle_api)

    app.add_route(TOKEN_PATH, token, methods=_EVERY_METHOD)
    app.add_route("/{path:path}", api, methods=_EVERY_METHOD)
    return app


async def _serve(
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
    cycle = getattr(scope.get(_RAW_SEND), "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("drop_connection faults need the sandbox to run under uvicorn")
    transport.close()
    # Let the server notice the closed connection, so the response returned next is discarded.
    await asyncio.sleep(0)
