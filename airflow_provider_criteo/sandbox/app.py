"""The emulator as an ASGI application: Criteo's API, ``/oauth2/token``, the consent page and the
``/_sandbox`` routes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI

from airflow_provider_criteo.sandbox.control import add_control_routes
from airflow_provider_criteo.sandbox.dispatch import handle_api
from airflow_provider_criteo.sandbox.oauth import add_oauth_routes
from airflow_provider_criteo.sandbox.serving import RAW_SEND, serve

if TYPE_CHECKING:
    from fastapi.responses import Response
    from starlette.requests import Request
    from starlette.types import Receive, Scope, Send

    from airflow_provider_criteo.sandbox.models import SandboxState

_EVERY_METHOD = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


class SandboxApplication(FastAPI):
    """FastAPI, keeping the server's own ``send`` so a fault can drop the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one ASGI connection."""
        scope[RAW_SEND] = send
        await super().__call__(scope, receive, send)


def create_app(state: SandboxState) -> FastAPI:
    """The emulator serving ``state``: Criteo's API, ``/oauth2/token`` and ``/_sandbox/...``."""
    app = SandboxApplication(
        title="Criteo sandbox", docs_url=None, redoc_url=None, openapi_url=None, redirect_slashes=False
    )
    app.state.sandbox = state
    add_control_routes(app, state)
    add_oauth_routes(app, state, _EVERY_METHOD)

    async def api(request: Request) -> Response:
        return await serve(state, request, handle_api)

    app.add_route("/{path:path}", api, methods=_EVERY_METHOD)
    return app
