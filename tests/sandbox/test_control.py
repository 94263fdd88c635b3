"""The test-facing control surface: the request journal, ``/_sandbox/...`` routes and the Python API."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_criteo.sandbox import Settings
from tests.sandbox.conftest import sha256
from tests.sandbox.test_minimal import create

SEGMENTS = "marketing-solutions/audience-segments"


def control(sandbox, method: str, path: str, body: dict | None = None) -> requests.Response:
    """Call a ``/_sandbox`` route."""
    return requests.request(method, f"{sandbox.url}/_sandbox/{path}", json=body, timeout=5)


def test_http_control_routes(client, criteo_sandbox):
    segment_id = client.create("vip")
    client.amend(segment_id, ["b@example.com", "a@example.com"])

    assert control(criteo_sandbox, "GET", "segments").json() == criteo_sandbox.segments()
    assert control(criteo_sandbox, "GET", "segments?advertiser_id=999").json() == []
    assert control(criteo_sandbox, "GET", f"segments/{segment_id}/members").json() == {
        "segment_id": segment_id,
        "members": ["a@example.com", "b@example.com"],
    }
    journal = control(criteo_sandbox, "GET", "requests").json()
    assert [entry["path"] for entry in journal][-1].endswith("/contact-list")
    assert control(criteo_sandbox, "DELETE", "requests").status_code == 200
    assert criteo_sandbox.requests == []

    fault = control(criteo_sandbox, "POST", "faults", {"path": "/me", "status": 503, "count": 1})
    assert fault.json()["status"] == 503
    assert client.call("GET", "marketing-solutions/me").status_code == 503

    settings = control(criteo_sandbox, "PUT", "settings", {"rate_limit_per_minute": 100, "latency": 0})
    assert settings.json() == {
        "token_lifetime": 900.0,
        "latency": 0.0,
        "rate_limit_per_minute": 100,
        "record_bodies": True,
        "schema_minimal": False,
        "pending_statistics": False,
    }
    assert control(criteo_sandbox, "GET", "settings").json()["rate_limit_per_minute"] == 100

    app = control(
        criteo_sandbox, "POST", "apps", {"client_id": "new", "client_secret": "s", "advertiser_ids": ["5"]}
    )
    assert app.json()["advertiser_ids"] == ["5"]
    new_token = client.token("new", "s")

    assert control(criteo_sandbox, "POST", "expire-tokens").status_code == 200
    assert client.call("GET", "advertisers/me", token=new_token).status_code == 401

    assert control(criteo_sandbox, "POST", "reset").status_code == 200
    assert criteo_sandbox.segments() == []
    assert client.token_response("new", "s").status_code == 401
    assert criteo_sandbox.state.settings == Settings()


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "segments/123/members", None, 404),
        ("GET", "segments/abc/members", None, 404),
        ("POST", "faults", {"status": 200}, 400),
        ("POST", "faults", {"colour": "red"}, 400),
        ("PUT", "settings", {"rate_limit_per_minute": 0}, 400),
        ("PUT", "settings", {"latency": "slow"}, 400),
        ("POST", "apps", {"client_id": "x"}, 400),
        ("POST", "apps", {"client_id": "x", "client_secret": "y", "advertiser_ids": "12345"}, 400),
    ],
)
def test_bad_control_requests_are_refused(criteo_sandbox, method, path, body, status):
    response = control(criteo_sandbox, method, path, body)

    assert response.status_code == status
    assert response.json()["error"]


def test_control_bodies_must_be_json_objects(criteo_sandbox):
    response = requests.post(f"{criteo_sandbox.url}/_sandbox/faults", json=["x"], timeout=5)

    assert response.status_code == 400


def test_read_only_is_a_control_route_too(client, criteo_sandbox):
    segment_id = create(client, "partner list").json()["data"][0]["id"]
    url = f"{criteo_sandbox.url}/_sandbox/segments/{segment_id}/read-only"
    assert requests.put(url, json={"read_only": True}, timeout=5).status_code == 200
    assert client.amend(segment_id, [sha256("a@example.com")]).status_code == 403
    assert requests.put(url, json={"read_only": False}, timeout=5).status_code == 200
    assert client.amend(segment_id, [sha256("a@example.com")]).status_code == 200
    assert (
        requests.put(f"{criteo_sandbox.url}/_sandbox/segments/9/read-only", json={}, timeout=5).status_code
        == 404
    )
