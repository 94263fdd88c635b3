"""What Criteo's failed answers mean: the provider's exception for each, with Criteo's problems and a hint.

A failure is Criteo's error envelope (JSON:API problems), the OAuth error of the token endpoint, a bulk
call's item that was not applied, or a body that is not Criteo's (a proxy's page); each becomes the
:class:`~airflow_provider_criteo.exceptions.CriteoApiError` of its status or code, naming the call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.client.resources import (
    CONTACT_LIST_READ_ONLY,
    NAME_MUST_BE_UNIQUE,
    SEGMENT_NOT_FOUND,
    item_problems,
    problems_of,
    trace_id_of,
)
from airflow_provider_criteo.exceptions import (
    CriteoApiError,
    CriteoAuthenticationError,
    CriteoNotFoundError,
    CriteoPermissionError,
    CriteoRateLimitError,
    CriteoResponseError,
    CriteoServerError,
    CriteoValidationError,
    CriteoVersionGoneError,
)

if TYPE_CHECKING:
    import requests

TOKEN_ENDPOINT = "/oauth2/token"

_ERROR_CLASSES: dict[int, type[CriteoApiError]] = {
    400: CriteoValidationError,
    401: CriteoAuthenticationError,
    403: CriteoPermissionError,
    404: CriteoNotFoundError,
    410: CriteoVersionGoneError,
    413: CriteoValidationError,
    415: CriteoValidationError,
    429: CriteoRateLimitError,
}


def api_error(
    method: str,
    endpoint: str,
    response: requests.Response,
    *,
    conn_id: str,
    problem: dict[str, Any] | None = None,
    note: str | None = None,
) -> CriteoApiError:
    """Build the exception for a failed call from Criteo's error envelope or OAuth error.

    :param conn_id: the connection the call's settings came from, which hints name.
    :param problem: the problem to report (one of a 2xx's ``errors``); by default the answer's own.
    """
    status = response.status_code
    problems = [problem] if problem is not None else _answer_problems(response)
    first = problems[0] if problems else {}
    detail = "; ".join(filter(None, [first.get("detail") or first.get("title"), note]))
    error_class = _ERROR_CLASSES.get(status, CriteoServerError if status >= 500 else CriteoApiError)
    if status < 300:
        error_class = CriteoResponseError
    return error_class(
        method=method,
        endpoint=endpoint,
        status=status,
        code=first.get("code"),
        trace_id=trace_id_of(first),
        detail=detail or None,
        hint=_hint(status, endpoint, first.get("code"), conn_id),
        codes=tuple(str(p["code"]) for p in problems if p.get("code")),
    )


def gave_up(
    method: str,
    endpoint: str,
    response: requests.Response | None,
    failure: Exception | None,
    attempts: int,
    elapsed: float,
    *,
    conn_id: str,
) -> CriteoApiError:
    """The error of a call whose retries ran out: its last answer's, or its last transport failure's."""
    summary = f"gave up after {attempts} attempts in {elapsed:.0f}s"
    if response is None:
        return CriteoServerError(
            method=method,
            endpoint=endpoint,
            status=None,
            detail=f"{type(failure).__name__}: {failure}; {summary}",
        )
    return api_error(method, endpoint, response, conn_id=conn_id, note=summary)


def malformed(method: str, endpoint: str, response: requests.Response, err: Exception) -> CriteoResponseError:
    """The error of an answer whose body is not the JSON object Criteo sends (``err`` says why)."""
    content_type = response.headers.get("Content-Type", "no content type")
    return CriteoResponseError(
        method=method,
        endpoint=endpoint,
        status=response.status_code,
        detail=f"unexpected response body ({content_type}, {len(response.content)} bytes): "
        f"{type(err).__name__}: {err}",
    )


def item_failure(method: str, endpoint: str, envelope: dict[str, Any], what: str) -> CriteoApiError:
    """The error of a bulk call whose item was not applied, classed by the code of its problem."""
    problems = item_problems(envelope)
    codes = tuple(str(p["code"]) for p in problems if p.get("code"))
    first = next(
        (p for p in problems if p.get("code") == NAME_MUST_BE_UNIQUE), problems[0] if problems else {}
    )
    error_class: type[CriteoApiError] = {
        NAME_MUST_BE_UNIQUE: CriteoValidationError,
        SEGMENT_NOT_FOUND: CriteoNotFoundError,
    }.get(str(first.get("code")), CriteoResponseError)
    return error_class(
        method=method,
        endpoint=endpoint,
        status=200,
        code=first.get("code"),
        trace_id=trace_id_of(first),
        detail=first.get("detail") or first.get("title") or what,
        codes=codes,
    )


def _answer_problems(response: requests.Response) -> list[dict[str, Any]]:
    """The problems an error answer carries: Criteo's envelope, or the OAuth error."""
    try:
        body = response.json()
    except ValueError:
        content_type = response.headers.get("Content-Type", "no content type")
        return [{"detail": f"non-JSON response ({content_type}, {len(response.content)} bytes)"}]
    if not isinstance(body, dict):
        return []
    if "error" in body:  # OAuth2 token endpoint
        return [{"code": body.get("error"), "detail": body.get("error_description")}]
    return problems_of(body, "errors")


def _hint(status: int, endpoint: str, code: str | None, conn_id: str) -> str | None:
    """What a person can do about a failure that is a matter of configuration or consent, if anything."""
    if status in (400, 401) and endpoint == TOKEN_ENDPOINT:
        return f"Check the Client ID and Client Secret of the Airflow connection {conn_id!r}"
    if code == CONTACT_LIST_READ_ONLY:
        return (
            "This contact list is read-only at Criteo (Criteo or a partner maintains it): export to "
            "another audience_name"
        )
    if status == 403:
        return (
            "The Criteo app may not act for this advertiser: in Criteo's developer portal, ask the "
            "advertiser to grant the app consent with the Audience scope"
        )
    if status == 410:
        return f"Set a supported api_version in the extras of the Airflow connection {conn_id!r}"
    return None
