"""Fixtures of the emulator's own tests: a thin HTTP client, and a spec check of every exchange."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_criteo.sandbox import CriteoSandbox

VERSION = "2026-07"


def sha256(email: str) -> str:
    """The identifier Criteo expects for an e-mail address."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()


class CriteoClient:
    """Raw HTTP calls to the sandbox, with a token fetched on first use."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.session = requests.Session()
        self._token: str | None = None

    def token_response(
        self, client_id: str = DEFAULT_CLIENT_ID, client_secret: str = DEFAULT_CLIENT_SECRET
    ) -> requests.Response:
        """``POST /oauth2/token`` with the client-credentials grant."""
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        return self.session.post(f"{self.url}/oauth2/token", data=form, timeout=10)

    def token(self, client_id: str = DEFAULT_CLIENT_ID, client_secret: str = DEFAULT_CLIENT_SECRET) -> str:
        """A fresh access token for an app."""
        response = self.token_response(client_id, client_secret)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        version: str = VERSION,
        **kwargs: Any,
    ) -> requests.Response:
        """Call ``/{version}/{path}`` with a bearer token (the default app's unless given)."""
        if token is None:
            self._token = self._token or self.token()
            token = self._token
        headers = {"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})}
        if body is not None:
            kwargs["json"] = body
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, f"{self.url}/{version}/{path}", headers=headers, **kwargs)

    def create(self, name: str, advertiser_id: str = DEFAULT_ADVERTISER_ID, **kwargs: Any) -> str:
        """Create a contact-list segment and return its id."""
        body = {
            "data": [
                {
                    "type": "AudienceSegment",
                    "attributes": {"advertiserId": advertiser_id, "name": name, "contactList": {}},
                }
            ]
        }
        response = self.call("POST", "marketing-solutions/audience-segments/create", body, **kwargs)
        assert response.status_code == 200, response.text
        assert response.json()["errors"] == [], response.text
        return str(response.json()["data"][0]["id"])

    def amend(
        self,
        segment_id: str,
        identifiers: list[Any],
        operation: str = "add",
        identifier_type: str = "email",
        **kwargs: Any,
    ) -> requests.Response:
        """``PATCH .../contact-list`` with an amendment."""
        attributes = {"operation": operation, "identifierType": identifier_type, "identifiers": identifiers}
        body = {"data": {"type": "ContactlistAmendment", "attributes": attributes}}
        return self.call(
            "PATCH", f"marketing-solutions/audience-segments/{segment_id}/contact-list", body, **kwargs
        )

    def statistics(self, segment_id: str) -> dict[str, Any]:
        """The contact-list statistics attributes of a segment."""
        response = self.call(
            "GET", f"marketing-solutions/audience-segments/{segment_id}/contact-list/statistics"
        )
        assert response.status_code == 200, response.text
        attributes: dict[str, Any] = response.json()["data"]["attributes"]
        return attributes


@pytest.fixture
def client(criteo_sandbox: CriteoSandbox) -> Iterator[CriteoClient]:
    """A client of the fresh sandbox."""
    api = CriteoClient(criteo_sandbox.url)
    yield api
    api.session.close()


@pytest.fixture
def sdk_client(criteo_sandbox: CriteoSandbox) -> Any:
    """Criteo's official SDK client, with the sandbox as host and the default app's client credentials."""
    from criteo_api_marketingsolutions_v2026_07.api_client_builder import ApiClientBuilder

    return ApiClientBuilder.WithClientCredentials(
        DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, host=criteo_sandbox.url
    )
