"""Settings: how a change is checked, and what latency does to every answer."""

from __future__ import annotations

import time

import pytest

from airflow_provider_criteo.sandbox import Settings


def test_latency_slows_every_answer(client, criteo_sandbox):
    client.call("GET", "marketing-solutions/me")  # fetches the token before the latency
    criteo_sandbox.configure(latency=0.15)

    started = time.monotonic()
    assert client.call("GET", "marketing-solutions/me").status_code == 200

    assert time.monotonic() - started >= 0.15


def test_an_update_normalises_what_it_is_given_and_keeps_what_is_none():
    updated = Settings().updated({"latency": 1, "schema_minimal": None, "record_bodies": False})

    assert updated == Settings(latency=1.0, record_bodies=False)
    assert isinstance(updated.latency, float)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"token_lifetime": 0}, ValueError),
        ({"latency": float("nan")}, ValueError),
        ({"rate_limit_per_minute": True}, TypeError),
        ({"rate_limit_per_minute": 0}, ValueError),
        ({"pending_statistics": "yes"}, TypeError),
    ],
)
def test_an_update_refuses_bad_values(changes, error):
    with pytest.raises(error):
        Settings().updated(changes)
