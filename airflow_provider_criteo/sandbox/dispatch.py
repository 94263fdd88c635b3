"""Serve one call to ``/{version}/...``: route, token, rate limit, handler, then the answer's final shape."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sandbox.calls import Outcome, problem_outcome
from airflow_provider_criteo.sandbox.minimal import minimal_answer
from airflow_provider_criteo.sandbox.problems import ApiProblem
from airflow_provider_criteo.sandbox.urls import DEPRECATED_VERSIONS, api_version, resolve
from airflow_provider_criteo.sandbox.validation import path_segment_id

if TYPE_CHECKING:
    from airflow_provider_criteo.sandbox.calls import Call
    from airflow_provider_criteo.sandbox.models import SandboxState


def handle_api(state: SandboxState, call: Call) -> Outcome:
    """Serve a call to ``/{version}/...``: version, route, token, rate limit, then the endpoint."""
    rate_headers = state.peek_rate(None).headers()
    minimal = state.settings.schema_minimal
    try:
        route, raw_params = resolve(call.method, call.path)
        app = state.authenticate(call.headers.get("authorization"))
        rate = state.consume_rate(app.client_id)
        rate_headers = rate.headers()
        if not rate.allowed:
            outcome = problem_outcome(rate.refusal(), call, rate_headers, minimal=minimal)
            outcome.client_id = app.client_id
            return outcome
        params = {name: path_segment_id(value) for name, value in raw_params.items()}
        body = route.handler(state, app, call, params)
        if minimal:
            body = minimal_answer(route.handler.__name__, body)
        version = api_version(call.path)
        if version in DEPRECATED_VERSIONS:
            rate_headers.update(_deprecate(version, body, call))
        return Outcome(200, body, rate_headers, app.client_id)
    except ApiProblem as failure:
        outcome = problem_outcome(failure, call, rate_headers, minimal=minimal)
        outcome.client_id = state.client_of(call.headers.get("authorization"))
        return outcome


def _deprecate(version: str, body: dict[str, Any], call: Call) -> dict[str, str]:
    """Add the deprecation warning to an answer of a retiring version; return its headers."""
    deprecated_at, sunset = DEPRECATED_VERSIONS[version]
    body.setdefault("warnings", []).append(
        {
            "traceId": call.trace_id,
            "type": "deprecation",
            "code": "endpoint-deprecated",
            "instance": call.path,
            "title": "API version deprecated",
            "detail": f"API version {version} is deprecated and will be removed on {sunset}.",
        }
    )
    return {"deprecation": f"@{deprecated_at}", "sunset": sunset}
