"""OAuth2 token requests and bearer checks: the token form of each grant, the ``Authorization`` header,
scopes."""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sandbox.calls import Outcome
from airflow_provider_criteo.sandbox.problems import ApiProblem

if TYPE_CHECKING:
    from airflow_provider_criteo.sandbox.calls import Call
    from airflow_provider_criteo.sandbox.models import SandboxApp

TOKEN_PATH = "/oauth2/token"
AUDIENCE_READ_SCOPE = "MarketingSolutions_Audience_Read"
AUDIENCE_MANAGE_SCOPE = "MarketingSolutions_Audience_Manage"
ALL_SCOPES = (AUDIENCE_READ_SCOPE, AUDIENCE_MANAGE_SCOPE)
_FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
_CREDENTIAL_FIELDS = ("grant_type", "client_id", "client_secret")
#: The grants Criteo's token endpoint takes, with the fields each needs besides the credentials.
GRANT_FIELDS = {
    "client_credentials": (),
    "authorization_code": ("code", "redirect_uri"),
    "refresh_token": ("refresh_token",),
}
#: The OAuth error of an injected fault on the token endpoint, by status (others get the envelope).
_FAULT_ERRORS = {400: "invalid_request", 401: "invalid_client"}


def grants(scopes: frozenset[str], scope: str) -> bool:
    """Whether ``scopes`` include ``scope``; Audience "Manage" includes "Read"."""
    return scope in scopes or (scope == AUDIENCE_READ_SCOPE and AUDIENCE_MANAGE_SCOPE in scopes)


class OAuthError(Exception):
    """A refused token request, answered in OAuth's ``{error, error_description}`` shape."""

    def __init__(
        self, status: int, error: str, description: str, headers: dict[str, str] | None = None
    ) -> None:
        """A refusal answered with ``status``; ``headers`` are added to the response."""
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description
        self.headers = headers or {}

    def outcome(self) -> Outcome:
        """The answer to the token request."""
        return Outcome(self.status, oauth_error_body(self.error, self.description), self.headers)


def oauth_error_body(error: str, description: str) -> dict[str, Any]:
    """An OAuth error body."""
    return {"error": error, "error_description": description}


def oauth_fault_body(status: int, detail: str) -> dict[str, Any] | None:
    """The OAuth-shaped body of an injected 400/401 on the token endpoint (``None``: use the envelope)."""
    return oauth_error_body(_FAULT_ERRORS[status], detail) if status in _FAULT_ERRORS else None


def token_form(call: Call) -> dict[str, str]:
    """The fields of a ``POST /oauth2/token`` form with everything its grant needs, or its refusal."""
    if call.method != "POST":
        raise OAuthError(405, "invalid_request", "Use POST.", {"allow": "POST"})
    if call.media_type != _FORM_MEDIA_TYPE:
        raise OAuthError(400, "invalid_request", f"Send the form as {_FORM_MEDIA_TYPE}.")
    try:
        form = urllib.parse.parse_qs(call.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise OAuthError(400, "invalid_request", "The form is not valid UTF-8.") from None
    repeated = sorted(name for name, values in form.items() if len(values) > 1)
    if repeated:
        raise OAuthError(400, "invalid_request", f"Repeated parameters: {', '.join(repeated)}.")
    fields = {name: values[0] for name, values in form.items()}
    missing = [name for name in _CREDENTIAL_FIELDS if not fields.get(name)]
    if missing:
        raise OAuthError(400, "invalid_request", f"Missing parameters: {', '.join(missing)}.")
    if fields["grant_type"] not in GRANT_FIELDS:
        raise OAuthError(
            400, "unsupported_grant_type", f"grant_type must be one of {', '.join(GRANT_FIELDS)}."
        )
    missing = [name for name in GRANT_FIELDS[fields["grant_type"]] if not fields.get(name)]
    if missing:
        raise OAuthError(400, "invalid_request", f"Missing parameters: {', '.join(missing)}.")
    return fields


def presented_token(authorization: str | None) -> str:
    """What follows the scheme in an ``Authorization`` header, stripped (empty when nothing does)."""
    return (authorization or "").partition(" ")[2].strip()


def bearer_token(authorization: str | None) -> str:
    """The token of a well-formed ``Bearer`` header, or the 401 Criteo answers."""
    if not authorization:
        raise unauthorized("authorization-token-missing", "No bearer token in the Authorization header.")
    token = presented_token(authorization)
    if authorization.partition(" ")[0].lower() != "bearer" or not token or " " in token:
        raise unauthorized("authorization-token-invalid", "The Authorization header is malformed.")
    return token


def unauthorized(code: str, detail: str) -> ApiProblem:
    """The 401 for a missing, malformed, unknown or expired bearer token."""
    return ApiProblem(401, "authentication", code, "Unauthorized", detail)


def require_scope(app: SandboxApp, scope: str) -> None:
    """Refuse with 403 an app whose advertiser granted no consent, or that lacks ``scope``."""
    if not app.consent:
        raise ApiProblem(
            403,
            "authorization",
            "consent-missing",
            "Consent missing",
            "The advertiser has not granted this application access to its data.",
        )
    if not app.has_scope(scope):
        raise ApiProblem(
            403,
            "authorization",
            "insufficient-scope",
            "Insufficient scope",
            f"This application lacks the {scope} scope.",
        )
