"""The emulator's own control API under ``/_sandbox``: segments, members, journal, faults, settings, apps."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sandbox.calls import json_response

if TYPE_CHECKING:
    from collections.abc import Callable

    from fastapi import FastAPI
    from fastapi.responses import Response
    from starlette.requests import Request

    from airflow_provider_criteo.sandbox.models import SandboxState

CONTROL_PREFIX = "/_sandbox"


async def _control_body(request: Request) -> dict[str, Any]:
    """The JSON object a control request sends (empty when it sends nothing)."""
    raw = await request.body()
    body = json.loads(raw) if raw.strip() else {}
    if not isinstance(body, dict):
        raise ValueError("send a JSON object")
    return body


def add_control_routes(app: FastAPI, state: SandboxState) -> None:
    """Register ``/_sandbox/...``: no authentication, no rate limit, not journaled."""

    def control(path: str, method: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        def register(operation: Callable[[dict[str, Any], Request], Any]) -> Callable[..., Any]:
            async def endpoint(request: Request) -> Response:
                try:
                    body = await _control_body(request) if method in {"POST", "PUT"} else {}
                    result = operation(body, request)
                except (TypeError, ValueError) as error:
                    return json_response({"error": str(error)}, 400)
                except KeyError as error:
                    return json_response({"error": error.args[0]}, 404)
                return json_response(result)

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
            "redirect_uris": list(app_.redirect_uris),
        }

    @control("/apps/{client_id}/revoke-consent", "POST")
    def revoke_consent(body: dict[str, Any], request: Request) -> Any:
        state.revoke_consent(request.path_params["client_id"])
        return {"revoked": True}

    @control("/segments/{segment_id}/read-only", "PUT")
    def read_only(body: dict[str, Any], request: Request) -> Any:
        segment_id = request.path_params["segment_id"]
        state.set_read_only(segment_id, body.get("read_only", True))
        return {"segment_id": segment_id, "read_only": body.get("read_only", True)}

    for path, method, action, answer in (
        ("/requests", "DELETE", state.clear_requests, "cleared"),
        ("/expire-tokens", "POST", state.expire_tokens, "expired"),
        ("/expire-refresh-tokens", "POST", state.expire_refresh_tokens, "expired"),
        ("/reset", "POST", state.reset, "reset"),
    ):
        control(path, method)(_acknowledging(action, answer))


def _acknowledging(action: Callable[[], None], answer: str) -> Callable[[dict[str, Any], Request], Any]:
    """A control operation that runs ``action`` and answers ``{answer: true}``."""

    def operation(body: dict[str, Any], request: Request) -> Any:
        action()
        return {answer: True}

    return operation
