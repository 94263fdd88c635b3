"""Criteo's OAuth surface as the emulator serves it: ``/oauth2/token``, and the consent portal, whose
``/request`` shows an authorization-code app's consent request and whose *Approve* or *Deny* sends the
administrator's browser back to the app.

Criteo serves it at ``https://consent.criteo.com/request`` behind its own sign-in; the emulator serves
it at ``/request`` on its own host, signed in as an administrator of the app's advertisers (emulator
choice). A request naming an unknown app or an unregistered redirect URI is answered here, never sent
anywhere (Criteo blocks the redirection). The consent pages are another host's at Criteo: they are not
journaled, rate-limited or faulted like the API.
"""

from __future__ import annotations

import html
import urllib.parse
from typing import TYPE_CHECKING

from starlette.responses import HTMLResponse, RedirectResponse, Response

from airflow_provider_criteo.sandbox.auth import TOKEN_PATH
from airflow_provider_criteo.sandbox.responses import handle_token
from airflow_provider_criteo.sandbox.serving import serve

if TYPE_CHECKING:
    from collections.abc import Mapping

    from fastapi import FastAPI
    from starlette.requests import Request

    from airflow_provider_criteo.sandbox.models import SandboxState

CONSENT_PATH = "/request"
#: What the consent link carries (PKCE's two parameters are not emulated).
_FIELDS = ("response_type", "client_id", "redirect_uri", "state")


def add_oauth_routes(app: FastAPI, state: SandboxState, methods: list[str]) -> None:
    """Register the token endpoint (answering every method in ``methods``, to refuse the others as
    Criteo does), the consent page (``GET``) and the administrator's decision (``POST``)."""

    async def token(request: Request) -> Response:
        return await serve(state, request, handle_token)

    async def consent_request(request: Request) -> Response:
        fields = {name: request.query_params.get(name, "") for name in _FIELDS}
        try:
            advertisers = state.consent_request(fields["client_id"], fields["redirect_uri"])
        except ValueError as blocked:
            return _blocked(blocked)
        return _wrong_response_type(fields) or HTMLResponse(_page(fields, advertisers))

    async def decision(request: Request) -> Response:
        form = await request.form()
        fields = {name: str(form.get(name, "")) for name in _FIELDS}
        try:
            state.consent_request(fields["client_id"], fields["redirect_uri"])
            refusal = _wrong_response_type(fields)
            if refusal is not None:
                return refusal
            if form.get("decision") != "approve":
                return _back(fields, {"error": "access_denied"})
            return _back(fields, {"code": state.approve(fields["client_id"], fields["redirect_uri"])})
        except ValueError as blocked:
            return _blocked(blocked)

    app.add_route(TOKEN_PATH, token, methods=methods)
    app.add_route(CONSENT_PATH, consent_request, methods=["GET"])
    app.add_route(CONSENT_PATH, decision, methods=["POST"])


def _blocked(reason: ValueError) -> Response:
    """The page for a request that cannot go back to any app: no redirection."""
    return HTMLResponse(_message("Request blocked", str(reason)), 400)


def _wrong_response_type(fields: Mapping[str, str]) -> Response | None:
    """The app's answer to a request for anything but a code (RFC 6749 4.1.2.1), else None."""
    if fields["response_type"] == "code":
        return None
    error = "invalid_request" if not fields["response_type"] else "unsupported_response_type"
    return _back(fields, {"error": error})


def _back(fields: Mapping[str, str], answer: Mapping[str, str]) -> Response:
    """Send the browser back to the app's redirect URI with ``answer`` and the request's ``state``."""
    query = urllib.parse.urlencode({**answer, **({"state": fields["state"]} if fields["state"] else {})})
    separator = "&" if "?" in fields["redirect_uri"] else "?"
    return RedirectResponse(f"{fields['redirect_uri']}{separator}{query}", status_code=303)


def _page(fields: Mapping[str, str], advertisers: list[tuple[str, str]]) -> str:
    """The consent request: which app asks, for which advertisers, with *Approve* and *Deny*."""
    listed = "".join(
        f"<li>{html.escape(name)} ({html.escape(advertiser_id)})</li>" for advertiser_id, name in advertisers
    )
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{html.escape(value)}">' for name, value in fields.items()
    )
    body = (
        f"<p>Application <strong>{html.escape(fields['client_id'])}</strong> asks to access these "
        f"advertisers' data:</p><ul>{listed}</ul>"
        f'<form method="post" action="{CONSENT_PATH}">{hidden}'
        '<button name="decision" value="approve">Approve</button> '
        '<button name="decision" value="deny">Deny</button></form>'
    )
    return _message("Criteo consent request (sandbox)", body, escaped=True)


def _message(title: str, body: str, *, escaped: bool = False) -> str:
    """A small HTML page."""
    content = body if escaped else f"<p>{html.escape(body)}</p>"
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"</head><body><h1>{html.escape(title)}</h1>{content}</body></html>"
    )
