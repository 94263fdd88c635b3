"""Criteo's error vocabulary: the problem objects and envelopes the emulator answers with."""

from __future__ import annotations

from typing import Any


class ApiProblem(Exception):
    """A failed API call: raised anywhere in a handler, answered as Criteo's ``errors`` envelope."""

    def __init__(
        self,
        status: int,
        type_: str,
        code: str,
        title: str,
        detail: str,
        *,
        source: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """A failure answered with ``status``; ``headers`` are added to the response."""
        super().__init__(detail)
        self.status = status
        self.type = type_
        self.code = code
        self.title = title
        self.detail = detail
        self.source = source
        self.headers = headers or {}

    def to_problem(self, trace_id: str, instance: str) -> dict[str, Any]:
        """Render this failure as one Criteo problem object."""
        return problem(trace_id, instance, self.type, self.code, self.title, self.detail, self.source)

    def to_envelope(self, trace_id: str, instance: str) -> dict[str, Any]:
        """Render this failure as the response body Criteo sends for it."""
        return {"errors": [self.to_problem(trace_id, instance)], "warnings": []}


def problem(
    trace_id: str,
    instance: str,
    type_: str,
    code: str,
    title: str,
    detail: str,
    source: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Build a problem object ``{traceId, type, code, instance, title, detail, source?}``."""
    body: dict[str, Any] = {
        "traceId": trace_id,
        "type": type_,
        "code": code,
        "instance": instance,
        "title": title,
        "detail": detail,
    }
    if source is not None:
        body["source"] = source
    return body


def validation_error(pointer: str, detail: str, code: str = "invalid") -> ApiProblem:
    """A 400 for a request body field, ``pointer`` being its JSON pointer (``/data/attributes/name``)."""
    return ApiProblem(400, "validation", code, "Invalid request body", detail, source={"pointer": pointer})


def parameter_error(parameter: str, detail: str, code: str = "invalid") -> ApiProblem:
    """A 400 for a query or path parameter."""
    return ApiProblem(400, "validation", code, "Invalid parameter", detail, source={"parameter": parameter})


def segment_not_found(segment_id: int, pointer: str | None = None) -> ApiProblem:
    """The 404 for an audience segment that does not exist (``pointer``: the bulk item naming it)."""
    return ApiProblem(
        404,
        "validation",
        "segment-not-found",
        "Audience segment not found",
        f"Audience segment {segment_id} does not exist.",
        source=_pointer(pointer),
    )


def name_taken(advertiser_id: str, name: str, pointer: str) -> ApiProblem:
    """The per-item failure of a bulk create or update giving a segment a name the advertiser uses."""
    return ApiProblem(
        400,
        "validation",
        "name-must-be-unique",
        "Segment name already used",
        f"Advertiser {advertiser_id} already has a segment named {name!r}.",
        source=_pointer(pointer),
    )


def contact_list_read_only(segment_id: int) -> ApiProblem:
    """The 403 for amending or wiping a read-only contact list (emulator choice)."""
    return ApiProblem(
        403,
        "authorization",
        "contact-list-read-only",
        "Contact list is read-only",
        f"The contact list of audience segment {segment_id} is read-only: it cannot be amended or wiped.",
    )


def advertiser_not_allowed(advertiser_id: str) -> ApiProblem:
    """The 403 for acting on an advertiser the application may not use."""
    return ApiProblem(
        403,
        "authorization",
        "advertiser-not-allowed",
        "Advertiser not allowed",
        f"This application has no access to advertiser {advertiser_id}.",
    )


# Injected faults and the rate limiter answer these (type, code, title) per status.
STATUS_PROBLEMS: dict[int, tuple[str, str, str]] = {
    400: ("validation", "invalid", "Bad request"),
    401: ("authentication", "authorization-token-invalid", "Unauthorized"),
    403: ("authorization", "forbidden", "Forbidden"),
    404: ("validation", "not-found", "Not found"),
    409: ("validation", "conflict", "Conflict"),
    410: ("deprecation", "api-version-decommissioned", "Gone"),
    413: ("validation", "payload-too-large", "Payload too large"),
    415: ("validation", "unsupported-media-type", "Unsupported media type"),
    429: ("quota", "too-many-requests", "Too many requests"),
    500: ("availability", "internal-error", "Internal server error"),
    502: ("availability", "bad-gateway", "Bad gateway"),
    503: ("availability", "service-unavailable", "Service unavailable"),
    504: ("availability", "gateway-timeout", "Gateway timeout"),
}


def status_problem(status: int, detail: str) -> ApiProblem:
    """The canonical Criteo problem for an HTTP status (used by injected faults and the rate limiter)."""
    fallback = (
        ("availability", "internal-error", "Server error")
        if status >= 500
        else ("validation", "invalid", "Request failed")
    )
    type_, code, title = STATUS_PROBLEMS.get(status, fallback)
    return ApiProblem(status, type_, code, title, detail)


def _pointer(pointer: str | None) -> dict[str, str] | None:
    return None if pointer is None else {"pointer": pointer}
