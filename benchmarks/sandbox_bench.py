"""Server CPU of the Criteo sandbox per 50,000-identifier amendment, through the whole ASGI app.

Run: ``.venv/bin/python benchmarks/sandbox_bench.py``. It prints the figure; nothing is asserted
about time. The emulator must never be the bottleneck of a 1,000,000-member export (20 requests).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import urllib.parse
from typing import Any

from airflow_provider_criteo.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxState, create_app

ROUNDS = 10


async def asgi_call(
    app: Any, method: str, path: str, body: bytes, headers: dict[str, str]
) -> tuple[int, bytes]:
    """One HTTP exchange with an ASGI app, without a network or a server."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8089),
    }
    chunks = [body[offset : offset + 65536] for offset in range(0, len(body), 65536)] or [b""]
    messages = [
        {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
        for i, chunk in enumerate(chunks)
    ]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(message.get("body", b"") for message in sent[1:])


def sha256(email: str) -> str:
    """The identifier Criteo expects for an e-mail address."""
    return hashlib.sha256(email.encode()).hexdigest()


def main() -> None:
    """Measure and print the server CPU per amendment."""
    state = SandboxState()
    state.configure(record_bodies=False)
    app = create_app(state)

    async def scenario() -> tuple[float, int]:
        form = urllib.parse.urlencode(
            {
                "grant_type": "client_credentials",
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
            }
        )
        form_headers = {"content-type": "application/x-www-form-urlencoded"}
        _, token_body = await asgi_call(app, "POST", "/oauth2/token", form.encode(), form_headers)
        headers = {
            "authorization": f"Bearer {json.loads(token_body)['access_token']}",
            "content-type": "application/json",
        }
        create = {"data": [{"attributes": {"advertiserId": "12345", "name": "perf", "contactList": {}}}]}
        _, created = await asgi_call(
            app,
            "POST",
            "/2026-07/marketing-solutions/audience-segments/create",
            json.dumps(create).encode(),
            headers,
        )
        segment_id = json.loads(created)["data"][0]["id"]
        path = f"/2026-07/marketing-solutions/audience-segments/{segment_id}/contact-list"
        batches = [
            [sha256(f"user{batch}-{index}@example.com") for index in range(50_000)] for batch in range(2)
        ]
        bodies = [
            json.dumps(
                {
                    "data": {
                        "type": "ContactlistAmendment",
                        "attributes": {
                            "operation": operation,
                            "identifierType": "email",
                            "identifiers": batch,
                        },
                    }
                }
            ).encode()
            for operation in ("add", "remove")
            for batch in batches
        ]
        started = time.process_time()
        for round_ in range(ROUNDS):
            status, _ = await asgi_call(app, "PATCH", path, bodies[round_ % len(bodies)], headers)
            if status != 200:
                raise RuntimeError(f"the sandbox answered {status}")
        return (time.process_time() - started) / ROUNDS, len(bodies[0])

    cpu, size = asyncio.run(scenario())

    print(f"sandbox CPU per 50,000-identifier amendment ({size / 1e6:.1f} MB JSON): {cpu * 1000:.1f} ms")
    print(f"so a 1,000,000-member export (20 amendments) costs the sandbox about {cpu * 20:.2f} s of CPU")


if __name__ == "__main__":
    main()
