"""Check HTTP exchanges with Criteo (or the sandbox) against Criteo's own OpenAPI specification.

``validate_exchange`` checks one request and its response; ``validate_recorded`` checks an entry of the
sandbox journal (``sandbox.requests``), so a test can validate every call a client made::

    for entry in criteo_sandbox.requests:
        validate_recorded(entry)

Documented responses are validated with openapi-core. Error statuses the specification does not document
for an endpoint (401, 403, 404, 410, 413, 415, 429, 5xx) are checked against the specification's own
problem schemas (``CommonProblem`` and ``AudienceError`` together). ``POST /oauth2/token`` is not in the
specification: it is checked against docs/criteo-api.md.
"""

from __future__ import annotations

import functools
import json
import re
import urllib.parse
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from openapi_core import OpenAPI
from openapi_core.exceptions import OpenAPIError
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

if TYPE_CHECKING:
    from airflow_provider_criteo.sandbox import RecordedRequest

SPEC_PATH = Path(__file__).parent / "openapi" / "marketingsolutions_2026-07.json"
SPEC_VERSION = "2026-07"
SPEC_HOST = "https://api.criteo.com"
# The audience endpoints are identical in these versions, so one specification checks them all.
SAME_AUDIENCE_API = ("2026-01", "2026-07", "2027-01")
TOKEN_PATH = "/oauth2/token"


@functools.cache
def spec() -> dict[str, Any]:
    """The specification as plain JSON."""
    return json.loads(SPEC_PATH.read_text(encoding="utf-8"))


@functools.cache
def openapi() -> OpenAPI:
    """The openapi-core view of the specification (loading it takes about a second, so it is cached)."""
    return OpenAPI.from_path(SPEC_PATH.resolve())


@functools.cache
def _error_body_validator() -> OAS30Validator:
    problem = {
        "allOf": [
            {"$ref": "#/components/schemas/CommonProblem"},
            {"$ref": "#/components/schemas/AudienceError"},
        ]
    }
    schema = {
        "type": "object",
        "required": ["errors"],
        "properties": {
            "errors": {"type": "array", "minItems": 1, "items": problem},
            "warnings": {"type": "array", "items": problem},
        },
        "components": spec()["components"],
    }
    return OAS30Validator(schema)


@functools.cache
def _operations() -> list[tuple[re.Pattern[str], str, dict[str, Any]]]:
    operations = []
    for template, item in spec()["paths"].items():
        pattern = re.compile(re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template)))
        for method, operation in item.items():
            if method != "parameters":
                operations.append((pattern, method.upper(), operation))
    return operations


def documented_operation(method: str, path: str) -> dict[str, Any] | None:
    """The specification's operation for a method and a (spec-version) path, if documented."""
    return next(
        (
            operation
            for pattern, verb, operation in _operations()
            if verb == method and pattern.fullmatch(path)
        ),
        None,
    )


def _to_spec_version(path: str) -> str:
    version, _, rest = path.lstrip("/").partition("/")
    return f"/{SPEC_VERSION}/{rest}" if version in SAME_AUDIENCE_API else path


def _as_bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body).encode("utf-8")


def validate_exchange(
    method: str,
    url_path: str,
    request_body: Any,
    status: int | None,
    response_body: Any,
    headers: dict[str, str] | None = None,
    *,
    check_request: bool = True,
) -> None:
    """Raise ``AssertionError`` unless the exchange conforms to Criteo's specification.

    :param url_path: path with the query string if any, e.g. ``/2026-07/marketing-solutions/me``.
    :param request_body: the JSON request body (a parsed value, text or bytes; ``None`` for none).
    :param status: the response status; ``None`` when no response came (only the request is checked).
    :param response_body: the parsed JSON response body.
    :param headers: the request headers (their ``content-type`` is used; JSON by default).
    :param check_request: also validate the request (turn off for deliberately invalid requests).
    """
    method = method.upper()
    parts = urllib.parse.urlsplit(url_path)
    request_headers = {name.lower(): value for name, value in (headers or {}).items()}
    if parts.path == TOKEN_PATH:
        _validate_token_exchange(method, request_body, status, response_body, check_request=check_request)
        return
    path = _to_spec_version(parts.path)
    operation = documented_operation(method, path)
    request = MockRequest(
        SPEC_HOST,
        method,
        path,
        args=dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)),
        headers=request_headers,
        data=_as_bytes(request_body),
        content_type=request_headers.get("content-type", "application/json"),
    )
    with warnings.catch_warnings():
        # openapi-core cannot check the oauth2 security scheme and says so on every call.
        warnings.filterwarnings("ignore", "Unsupported scheme type", UserWarning)
        if check_request:
            assert operation is not None, f"{method} {parts.path} is not in Criteo's specification"
            _expect_valid(lambda: openapi().validate_request(request), f"request {method} {url_path}")
        if status is None:
            return
        if operation is not None and str(status) in operation["responses"]:
            response = MockResponse(_as_bytes(response_body), status)
            _expect_valid(
                lambda: openapi().validate_response(request, response), f"{status} of {method} {url_path}"
            )
            return
    assert status >= 400, f"{method} {url_path} answered {status}, which the specification does not document"
    errors = sorted(_error_body_validator().iter_errors(response_body), key=str)
    assert not errors, f"error body of {status} {method} {url_path} is not Criteo's: {errors[0].message}"


def _expect_valid(check: Any, what: str) -> None:
    try:
        check()
    except OpenAPIError as error:
        cause = error.__cause__ or error
        details = getattr(cause, "schema_errors", None) or ()
        raise AssertionError(
            f"{what} does not conform to Criteo's specification: {cause} {details}"
        ) from error


#: The fields each grant of Criteo's token endpoint needs besides the client's credentials, written from
#: Criteo's documentation (docs/criteo-consent.md), not imported from the sandbox: an independent check.
_GRANT_FIELDS = {
    "client_credentials": (),
    "authorization_code": ("code", "redirect_uri"),
    "refresh_token": ("refresh_token",),
}


def _validate_token_exchange(
    method: str, request_body: Any, status: int | None, response_body: Any, *, check_request: bool
) -> None:
    if check_request:
        assert method == "POST", "the token endpoint takes POST"
        form = request_body if isinstance(request_body, dict) else {}
        if not isinstance(request_body, dict):
            form = dict(urllib.parse.parse_qsl(_as_bytes(request_body).decode("utf-8")))
        # Criteo's grants (docs/criteo-consent.md): client credentials, and an authorization-code app's
        # code (with the redirect URI of its consent request) or refresh token.
        grant = form.get("grant_type")
        assert grant in _GRANT_FIELDS, f"the token request's grant_type {grant!r} is not Criteo's"
        for field in ("client_id", "client_secret", *_GRANT_FIELDS[grant]):
            assert form.get(field), f"the {grant} token request needs a {field}"
    else:
        grant = None
    if status is None:
        return
    assert isinstance(response_body, dict), "token responses are JSON objects"
    if status == 200:
        assert isinstance(response_body.get("access_token"), str)
        assert response_body["access_token"]
        assert response_body.get("token_type") == "Bearer"
        assert "refresh_token" in response_body
        if grant == "client_credentials":
            assert response_body["refresh_token"] is None
        elif grant is not None:
            assert isinstance(response_body["refresh_token"], str)
            assert response_body["refresh_token"]
        assert isinstance(response_body.get("expires_in"), int)
    elif "error" in response_body:
        assert 400 <= status < 500, f"an OAuth error body with status {status}"
        assert isinstance(response_body["error"], str)
        assert isinstance(response_body.get("error_description"), str)
    else:
        assert not list(_error_body_validator().iter_errors(response_body)), (
            "token error body is not Criteo's"
        )


def validate_recorded(entry: RecordedRequest, *, check_request: bool = True) -> None:
    """Validate one entry of the sandbox journal (recorded with ``record_bodies=True``)."""
    query = urllib.parse.urlencode(entry.query)
    validate_exchange(
        entry.method,
        f"{entry.path}?{query}" if query else entry.path,
        entry.body,
        entry.status,
        entry.response,
        entry.headers,
        check_request=check_request,
    )
