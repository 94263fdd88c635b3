"""Injected faults: error statuses, slow answers, dropped connections and lost responses."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID, Fault
from airflow_provider_criteo.sandbox.faults import FaultQueue
from tests.sandbox.conftest import sha256

SEGMENTS = "marketing-solutions/audience-segments"


def test_a_429_fault_answers_like_the_rate_limiter_for_count_requests(client, criteo_sandbox):
    criteo_sandbox.inject_fault(path="marketing-solutions/me", status=429, count=2)
    before = time.time()

    responses = [client.call("GET", "marketing-solutions/me") for _ in range(3)]

    assert [response.status_code for response in responses] == [429, 429, 200]
    throttled = responses[0]
    (error,) = throttled.json()["errors"]
    assert (error["type"], error["code"]) == ("quota", "too-many-requests")
    assert error["traceId"] == throttled.headers["x-trace-id"]
    assert throttled.headers["x-ratelimit-remaining"] == "0"
    assert throttled.headers["x-ratelimit-limit"] == "250"
    assert before < int(throttled.headers["x-ratelimit-reset"]) <= before + 3
    assert "retry-after" not in throttled.headers
    assert [entry.fault for entry in criteo_sandbox.requests if entry.path.endswith("/me")] == [
        True,
        True,
        False,
    ]


@pytest.mark.parametrize(
    ("status", "code"),
    [(500, "internal-error"), (502, "bad-gateway"), (503, "service-unavailable"), (504, "gateway-timeout")],
)
def test_5xx_faults_answer_an_availability_problem(client, criteo_sandbox, status, code):
    segment_id = client.create("vip")
    criteo_sandbox.inject_fault(path="contact-list", method="PATCH", status=status)

    response = client.amend(segment_id, ["a@example.com"])

    assert response.status_code == status
    (error,) = response.json()["errors"]
    assert (error["type"], error["code"]) == ("availability", code)
    assert "x-ratelimit-remaining" in response.headers
    assert criteo_sandbox.members(segment_id) == set()
    assert client.amend(segment_id, ["a@example.com"]).status_code == 200


def test_faults_match_method_and_path(client, criteo_sandbox):
    segment_id = client.create("vip")
    criteo_sandbox.inject_fault(path="contact-list", method="PATCH", status=503)

    assert client.statistics(segment_id)["numberOfIdentifiers"] == 0
    assert client.call("GET", "marketing-solutions/me").status_code == 200
    assert client.amend(segment_id, ["a@example.com"]).status_code == 503


def test_faults_can_add_retry_after_and_headers(client, criteo_sandbox):
    criteo_sandbox.inject_fault(path="/me", status=503, retry_after=7, headers={"X-Extra": "yes"})

    response = client.call("GET", "marketing-solutions/me")

    assert response.headers["retry-after"] == "7"
    assert response.headers["x-extra"] == "yes"


def test_a_delay_fault_makes_the_client_time_out(client, criteo_sandbox):
    criteo_sandbox.inject_fault(path="/me", delay=0.5)

    with pytest.raises(requests.exceptions.ReadTimeout):
        client.call("GET", "marketing-solutions/me", timeout=0.2)

    started = time.monotonic()
    assert client.call("GET", "marketing-solutions/me").status_code == 200
    assert time.monotonic() - started < 0.5


def test_a_dropped_connection_is_a_connection_error_and_nothing_happens(client, criteo_sandbox):
    segment_id = client.create("vip")
    criteo_sandbox.inject_fault(path="contact-list", drop_connection=True)

    with pytest.raises(requests.exceptions.ConnectionError):
        client.amend(segment_id, ["a@example.com"])

    assert criteo_sandbox.members(segment_id) == set()
    dropped = criteo_sandbox.requests[-1]
    assert (dropped.status, dropped.fault, dropped.response) == (None, True, None)
    assert client.amend(segment_id, ["a@example.com"]).status_code == 200


def test_a_lost_response_applies_the_amendment_but_the_client_sees_a_failure(client, criteo_sandbox):
    segment_id = client.create("vip")
    members = [sha256("a@example.com"), sha256("b@example.com")]
    criteo_sandbox.inject_fault(path="contact-list", status=502, apply=True)

    assert client.amend(segment_id, members).status_code == 502
    assert criteo_sandbox.members(segment_id) == set(members)

    criteo_sandbox.inject_fault(path="contact-list", drop_connection=True, apply=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        client.amend(segment_id, members[:1], operation="remove")
    assert criteo_sandbox.members(segment_id) == set(members[1:])


def test_a_lost_create_response_still_creates_the_segment(client, criteo_sandbox):
    criteo_sandbox.inject_fault(path="audience-segments/create", status=500, apply=True)
    body = {"data": [{"attributes": {"advertiserId": "12345", "name": "vip", "contactList": {}}}]}

    assert client.call("POST", f"{SEGMENTS}/create", body).status_code == 500

    assert [segment["attributes"]["name"] for segment in criteo_sandbox.segments()] == ["vip"]
    retry = client.call("POST", f"{SEGMENTS}/create", body)
    assert retry.json()["errors"][0]["code"] == "name-must-be-unique"


def test_the_token_endpoint_can_fail_too(client, criteo_sandbox):
    criteo_sandbox.inject_fault(path="/oauth2/token", status=401)
    criteo_sandbox.inject_fault(path="/oauth2/token", status=503)

    refused = client.token_response()
    unavailable = client.token_response()

    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")
    assert unavailable.status_code == 503
    assert unavailable.json()["errors"][0]["type"] == "availability"
    assert client.token_response().status_code == 200


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"status": 200},
        {"status": 600},
        {"status": 500, "count": 0},
        {"apply": True, "delay": 1.0},
        {"delay": -1.0},
        {"status": "500"},
    ],
)
def test_meaningless_faults_are_refused(criteo_sandbox, kwargs):
    with pytest.raises((ValueError, TypeError)):
        criteo_sandbox.inject_fault(path="x", **kwargs)


def test_a_late_answer_does_not_reach_the_journal_after_a_reset(client, criteo_sandbox):
    client.call("GET", "marketing-solutions/me")
    criteo_sandbox.inject_fault(path="/me", delay=0.3)
    with pytest.raises(requests.exceptions.ReadTimeout):
        client.call("GET", "marketing-solutions/me", timeout=0.1)

    criteo_sandbox.reset()
    time.sleep(0.3)

    assert criteo_sandbox.requests == []


def test_a_raw_body_fault_answers_that_body(criteo_sandbox, client):
    criteo_sandbox.inject_fault(
        path="advertisers/me", status=200, body="<html>proxy</html>", content_type="text/html"
    )
    response = client.call("GET", "advertisers/me")
    assert (response.status_code, response.text) == (200, "<html>proxy</html>")
    assert response.headers["content-type"].startswith("text/html")
    assert client.call("GET", "advertisers/me").json()["data"]  # one use only


def test_a_raw_body_needs_a_status(criteo_sandbox):
    with pytest.raises(ValueError, match="raw body needs a status"):
        criteo_sandbox.inject_fault(path="x", body="oops")


def test_a_fault_of_headers_only_answers_for_real_with_them(client, criteo_sandbox):
    reset = str(int(time.time() * 1000))
    criteo_sandbox.inject_fault(
        path="advertisers/me", headers={"x-ratelimit-reset": reset, "x-ratelimit-remaining": "0"}
    )
    response = client.call("GET", "advertisers/me")
    assert response.status_code == 200
    assert response.json()["data"][0]["id"] == DEFAULT_ADVERTISER_ID
    assert (response.headers["x-ratelimit-reset"], response.headers["x-ratelimit-remaining"]) == (reset, "0")


def test_the_queue_hands_out_the_first_matching_fault_until_it_is_used_up():
    queue = FaultQueue()
    twice = Fault(path="contact-list", method="PATCH", status=503, count=2)
    any_call = Fault(status=500)
    queue.add(twice)
    queue.add(any_call)

    taken = [queue.take("PATCH", "/2026-07/x/contact-list") for _ in range(3)]

    assert taken == [twice, twice, any_call]
    assert queue.take("PATCH", "/2026-07/x/contact-list") is None
