"""The emulated world: what a reset keeps, and what the Python API says of a segment that does not exist."""

from __future__ import annotations

import pytest

from airflow_provider_criteo.sandbox import DEFAULT_CLIENT_ID, SandboxState, Settings
from airflow_provider_criteo.sandbox.validation import NewSegment


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


def test_a_bulk_create_reports_a_taken_name_at_its_item_and_creates_the_others():
    state = SandboxState()
    app = state.apps[DEFAULT_CLIENT_ID]
    wanted = [
        NewSegment("12345", "vip", None),
        NewSegment("12345", "vip", "again"),
        NewSegment("12345", "b", None),
    ]

    created, failures = state.audience_segments.create(app, wanted)

    assert [resource["attributes"]["name"] for resource in created] == ["vip", "b"]
    ((code, source),) = [(failure.code, failure.source) for failure in failures]
    assert (code, source) == ("name-must-be-unique", {"pointer": "/data/1/attributes/name"})
