"""The state file: apps, advertisers and segments with their members survive a round trip."""

from __future__ import annotations

import pytest

from airflow_provider_criteo.sandbox import SandboxState


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
