"""A careless Criteo emulator for the browser tests: it remembers its tokens and echoes credentials."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sandbox import SandboxState

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Message, Receive, Scope, Send


class TokenRecordingState(SandboxState):
    """Emulator state that remembers every access token it issued, to look for them in task logs."""

    def __init__(self) -> None:
        super().__init__()
        self.issued_tokens: list[str] = []

    def issue_token(self, client_id: str, client_secret: str) -> tuple[str, float] | None:
        """Issue a token as the emulator does, and remember it."""
        issued = super().issue_token(client_id, client_secret)
        if issued is not None:
            self.issued_tokens.append(issued[0])
        return issued


class CredentialEcho:
    """A careless Criteo: each API answer carries a warning quoting the caller's secret and token.

    The hook logs Criteo's warnings, so the task logs show where both would leak: as ``***``.
    """

    def __init__(self, app: ASGIApp, client_secret: str) -> None:
        self.app = app
        self.client_secret = client_secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a request, adding the warning to the JSON envelope of an authenticated API answer."""
        headers = dict(scope.get("headers", []))
        token = headers.get(b"authorization", b"").decode().partition(" ")[2]
        if not token:
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def echo(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            body = self._with_warning(b"".join(chunks), token)
            kept = [(name, value) for name, value in start["headers"] if name.lower() != b"content-length"]
            await send({**start, "headers": [*kept, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, echo)

    def _with_warning(self, body: bytes, token: str) -> bytes:
        envelope = json.loads(body)
        envelope.setdefault("warnings", []).append(
            {
                "type": "validation",
                "code": "credentials-echo",
                "title": "Credentials echoed",
                "detail": f"client_secret={self.client_secret} access_token={token}",
            }
        )
        return json.dumps(envelope).encode()
