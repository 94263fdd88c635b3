"""The emulator's per-application rate limit."""

from __future__ import annotations

import time

import requests

from airflow_provider_criteo.sandbox.rate_limit import RateLimiter

SEGMENTS = "marketing-solutions/audience-segments"


def rate(response: requests.Response) -> tuple[int, int, int]:
    """The ``x-ratelimit-*`` headers of a response: limit, remaining, reset."""
    return (
        int(response.headers["x-ratelimit-limit"]),
        int(response.headers["x-ratelimit-remaining"]),
        int(response.headers["x-ratelimit-reset"]),
    )


def test_every_api_response_carries_the_rate_limit_headers(client, criteo_sandbox):
    responses = [
        client.call("GET", "marketing-solutions/me"),
        client.call("GET", "advertisers/me"),
        client.call("GET", f"{SEGMENTS}/1/contact-list/statistics"),
        requests.get(f"{criteo_sandbox.url}/2026-07/marketing-solutions/me", timeout=5),
        client.call("GET", "marketing-solutions/me", version="2020-01"),
    ]

    assert [rate(response)[:2] for response in responses] == [
        (250, 249),
        (250, 248),
        (250, 247),
        (250, 250),
        (250, 250),
    ]
    assert "retry-after" not in responses[0].headers
    assert abs(rate(responses[0])[2] - (time.time() + 60)) <= 2


def test_calls_over_the_limit_get_429_and_are_not_executed(client, criteo_sandbox):
    criteo_sandbox.configure(rate_limit_per_minute=3)
    client.token()  # token requests do not count
    statuses = [client.call("GET", "marketing-solutions/me").status_code for _ in range(2)]
    body = {"data": [{"attributes": {"advertiserId": "12345", "name": "late", "contactList": {}}}]}
    assert client.call("POST", f"{SEGMENTS}/create", body).status_code == 200
    before = time.time()

    refused = client.call(
        "POST",
        f"{SEGMENTS}/create",
        {"data": [{"attributes": {"advertiserId": "12345", "name": "refused", "contactList": {}}}]},
    )

    assert statuses == [200, 200]
    assert refused.status_code == 429
    limit, remaining, reset = rate(refused)
    assert (limit, remaining) == (3, 0)
    assert before + 55 <= reset <= before + 62
    assert "retry-after" not in refused.headers
    (error,) = refused.json()["errors"]
    assert (error["type"], error["code"]) == ("quota", "too-many-requests")
    assert [segment["attributes"]["name"] for segment in criteo_sandbox.segments()] == ["late"]
    assert client.call("GET", "marketing-solutions/me").status_code == 429


def test_the_limit_is_per_application(client, criteo_sandbox):
    criteo_sandbox.configure(rate_limit_per_minute=1)
    criteo_sandbox.add_app("other", "secret")
    assert client.call("GET", "marketing-solutions/me").status_code == 200
    assert client.call("GET", "marketing-solutions/me").status_code == 429

    assert (
        client.call("GET", "marketing-solutions/me", token=client.token("other", "secret")).status_code == 200
    )


def test_control_routes_need_no_token_and_do_not_count(client, criteo_sandbox):
    criteo_sandbox.configure(rate_limit_per_minute=1)
    for _ in range(3):
        assert requests.get(f"{criteo_sandbox.url}/_sandbox/segments", timeout=5).status_code == 200

    assert client.call("GET", "marketing-solutions/me").status_code == 200


def test_the_limiter_counts_allowed_calls_only_and_per_app():
    limiter = RateLimiter()

    statuses = [limiter.consume("a", 2) for _ in range(3)]

    assert [(status.allowed, status.remaining) for status in statuses] == [(True, 1), (True, 0), (False, 0)]
    assert (limiter.peek("a", 2).remaining, limiter.peek("b", 2).remaining) == (0, 2)
    limiter.clear()
    assert limiter.peek("a", 2).remaining == 2
