"""The test-facing control surface: the request journal, ``/_sandbox/...`` routes and the Python API."""

from __future__ import annotations

import pytest
import requests

from airflow_provider_criteo.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxState, Settings

SEGMENTS = "marketing-solutions/audience-segments"


def control(sandbox, method: str, path: str, body: dict | None = None) -> requests.Response:
    """Call a ``/_sandbox`` route."""
    return requests.request(method, f"{sandbox.url}/_sandbox/{path}", json=body, timeout=5)


def test_the_journal_records_api_calls_with_secrets_redacted(client, criteo_sandbox):
    segment_id = client.create("vip")
    client.amend(segment_id, ["a@example.com"])
    client.call("POST", f"{SEGMENTS}/search", {"data": {}}, params={"limit": "5"})

    token_call, create, amend, search = criteo_sandbox.requests

    assert (token_call.method, token_call.path, token_call.status) == ("POST", "/oauth2/token", 200)
    assert token_call.body == {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": "<redacted>",
    }
    assert token_call.response["access_token"] == "<redacted>"
    assert DEFAULT_CLIENT_SECRET not in repr(criteo_sandbox.requests)
    assert (create.method, create.path, create.status, create.client_id) == (
        "POST",
        "/2026-07/marketing-solutions/audience-segments/create",
        200,
        DEFAULT_CLIENT_ID,
    )
    assert create.headers["authorization"] == "Bearer <redacted>"
    assert create.response["data"][0]["id"] == segment_id
    assert amend.body["data"]["attributes"]["identifiers"] == ["a@example.com"]
    assert amend.trace_id
    assert not amend.fault
    assert search.query == {"limit": "5"}


def test_bodies_are_not_recorded_when_switched_off(client, criteo_sandbox):
    criteo_sandbox.configure(record_bodies=False)

    client.create("vip")

    assert all(entry.body is None and entry.response is None for entry in criteo_sandbox.requests)
    assert [entry.status for entry in criteo_sandbox.requests] == [200, 200]


def test_clear_requests_empties_the_journal(client, criteo_sandbox):
    client.create("vip")
    criteo_sandbox.clear_requests()

    assert criteo_sandbox.requests == []


def test_failed_calls_are_journaled_with_their_error(client, criteo_sandbox):
    client.call("GET", f"{SEGMENTS}/77/contact-list/statistics")

    entry = criteo_sandbox.requests[-1]
    assert entry.status == 404
    assert entry.response["errors"][0]["code"] == "segment-not-found"
    assert entry.client_id == DEFAULT_CLIENT_ID


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


def test_reset_restores_the_default_app_and_settings(client, criteo_sandbox):
    criteo_sandbox.configure(rate_limit_per_minute=1, token_lifetime=5)
    criteo_sandbox.add_app("other", "secret")
    criteo_sandbox.inject_fault(path="/me", status=500)
    client.create("vip")

    criteo_sandbox.reset()

    assert criteo_sandbox.state.settings == Settings()
    assert sorted(criteo_sandbox.state.apps) == [DEFAULT_CLIENT_ID]
    assert (criteo_sandbox.segments(), criteo_sandbox.requests) == ([], [])
    fresh = client.token()
    assert client.call("GET", "marketing-solutions/me", token=fresh).status_code == 200
    assert client.create("vip", token=fresh) == "100001"


def test_members_of_an_unknown_segment_is_a_key_error():
    state = SandboxState()

    with pytest.raises(KeyError):
        state.members("100001")
    with pytest.raises(KeyError):
        state.members("abc")


def test_state_round_trips_through_a_dict(client, criteo_sandbox):
    segment_id = client.create("vip")
    client.amend(segment_id, ["a@example.com"])
    client.amend(segment_id, ["d1"], identifier_type="madid")
    criteo_sandbox.add_app("other", "secret", advertiser_ids=("9",), consent=False)

    copy = SandboxState()
    copy.load_dict(criteo_sandbox.state.to_dict())

    assert copy.segments() == criteo_sandbox.segments()
    assert copy.members(segment_id, "madid") == {"d1"}
    assert copy.apps == criteo_sandbox.state.apps
    assert copy.advertisers == criteo_sandbox.state.advertisers
    assert copy.new_segment("12345", "next", None).id == int(segment_id) + 1


def test_state_files_of_another_format_are_refused():
    with pytest.raises(ValueError, match="format"):
        SandboxState().load_dict({"format": 99})
