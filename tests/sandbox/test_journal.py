"""The journal of API calls: what it records, redacted, and how it is switched off or emptied."""

from __future__ import annotations

from airflow_provider_criteo.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

SEGMENTS = "marketing-solutions/audience-segments"


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
