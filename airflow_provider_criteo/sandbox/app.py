"""The emulator as an ASGI application: Criteo's API plus the ``/_sandbox`` control routes."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.parse
import uuid
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi.responses import Response

from airflow_provider_criteo.sandbox.api import (
    TOKEN_PATH,
    Call,
    Outcome,
    handle_api,
    handle_token,
    oauth_fault_body,
    problem_outcome,
)
from airflow_provider_criteo.sandbox.problems import status_problem
from airflow_provider_criteo.sandbox.state import RecordedRequest

if TYPE_CHECKING:
    from collections.abc import Callable

    from starlette.requests import Request
    from starlette.types import Receive, Scope, Send

    from airflow_provider_criteo.sandbox.state import Fault, SandboxState

CONTROL_PREFIX = "/_sandbox"
TRACE_HEADER = "x-trace-id"
_RAW_SEND = "criteo_sandbox.raw_send"
_REDACTED = "<redacted>"
_FAULT_RESET_SECONDS = 2


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
    _add_control_routes(app, state)

    async def token(request: Request) -> Response:
        return await _serve(state, request, handle_token)

    async def api(request: Request) -> Response:
        return await _serve(state, request, handle_api)

    every_method = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    app.add_route(TOKEN_PATH, token, methods=every_method)
    app.add_route("/{path:path}", api, methods=every_method)
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
        outcome = _fault_outcome(state, fault, fault.status, call, outcome)
    # A fault that skips the request has a status or drops the connection, so there is an answer now.
    assert outcome is not None
    if fault is not None and fault.status is None:
        outcome.headers.update(fault.headers)  # the real answer, with the fault's headers
    _record(state, call, outcome.status, outcome, fault=fault is not None)
    await asyncio.sleep(delay)
    headers = {**outcome.headers, TRACE_HEADER: call.trace_id}
    return Response(_dumps(outcome.body), outcome.status, headers, media_type="application/json")


def _fault_outcome(
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


async def _drop_connection(scope: Scope) -> None:
    """Close the client connection before any byte of the response (uvicorn servers only)."""
    cycle = getattr(scope.get(_RAW_SEND), "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        raise RuntimeError("drop_connection faults need the sandbox to run under uvicorn")
    transport.close()
    # Let the server notice the closed connection, so the response returned next is discarded.
    await asyncio.sleep(0)


def _record(
    state: SandboxState, call: Call, status: int | None, outcome: Outcome | None, *, fault: bool
) -> None:
    token_call = call.path == TOKEN_PATH
    headers = dict(call.headers)
    if "authorization" in headers:
        scheme = headers["authorization"].partition(" ")[0]
        headers["authorization"] = f"{scheme} {_REDACTED}"
    body: Any = None
    response: Any = None
    if state.settings.record_bodies:
        body = _redacted_form(call.body) if token_call else call.journal_body()
        response = outcome.body if outcome and status is not None else None
        if token_call and isinstance(response, dict) and "access_token" in response:
            response = {**response, "access_token": _REDACTED}
    state.record(
        RecordedRequest(
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
    )


def _redacted_form(body: bytes) -> dict[str, str]:
    fields = dict(urllib.parse.parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    if "client_secret" in fields:
        fields["client_secret"] = _REDACTED
    return fields


def _dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- the /_sandbox control routes -----------------------------------------------------------------


def _json_response(body: Any, status: int = 200) -> Response:
    return Response(_dumps(body), status, media_type="application/json")


async def _control_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    body = json.loads(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        raise ValueError("send a JSON object")
    return body


def _add_control_routes(app: FastAPI, state: SandboxState) -> None:
    """Register ``/_sandbox/...``: no authentication, no rate limit, not journaled."""

    def control(path: str, method: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(operation: Callable[[dict[str, Any], Request], Any]) -> Callable[..., Any]:
            async def endpoint(request: Request) -> Response:
                try:
                    body = await _control_body(request) if method in {"POST", "PUT"} else {}
                    result = operation(body, request)
                except (TypeError, ValueError) as error:
                    return _json_response({"error": str(error)}, 400)
                except KeyError as error:
                    return _json_response({"error": error.args[0]}, 404)
                return _json_response(result)

            app.add_route(CONTROL_PREFIX + path, endpoint, methods=[method])
            return operation

        return register

    @control("/segments", "GET")
    def segments(body: dict[str, Any], request: Request) -> Any:
        return state.segments(request.query_params.get("advertiser_id"))

    @control("/segments/{segment_id}/members", "GET")
    def members(body: dict[str, Any], request: Request) -> Any:
        segment_id = request.path_params["segment_id"]
        identifier_type = request.query_params.get("identifier_type")
        return {"segment_id": segment_id, "members": sorted(state.members(segment_id, identifier_type))}

    @control("/requests", "GET")
    def requests(body: dict[str, Any], request: Request) -> Any:
        return [entry.to_dict() for entry in state.requests]

    @control("/requests", "DELETE")
    def clear_requests(body: dict[str, Any], request: Request) -> Any:
        state.clear_requests()
        return {"cleared": True}

    @control("/faults", "POST")
    def faults(body: dict[str, Any], request: Request) -> Any:
        return asdict(state.inject_fault(**body))

    @control("/settings", "GET")
    def settings(body: dict[str, Any], request: Request) -> Any:
        return asdict(state.settings)

    @control("/settings", "PUT")
    def configure(body: dict[str, Any], request: Request) -> Any:
        return asdict(state.configure(**body))

    @control("/apps", "POST")
    def apps(body: dict[str, Any], request: Request) -> Any:
        app_ = state.add_app(**body)
        return {
            "client_id": app_.client_id,
            "advertiser_ids": list(app_.advertiser_ids),
            "consent": app_.consent,
            "scopes": sorted(app_.scopes),
            "application_id": app_.application_id,
        }

    @control("/segments/{segment_id}/read-only", "PUT")
    def read_only(body: dict[str, Any], request: Request) -> Any:
        segment_id = request.path_params["segment_id"]
        state.set_read_only(segment_id, body.get("read_only", True))
        return {"segment_id": segment_id, "read_only": body.get("read_only", True)}

    @control("/expire-tokens", "POST")
    def expire_tokens(body: dict[str, Any], request: Request) -> Any:
        state.expire_tokens()
        return {"expired": True}

    @control("/reset", "POST")
    def reset(body: dict[str, Any], request: Request) -> Any:
        state.reset()
        return {"reset": True}
