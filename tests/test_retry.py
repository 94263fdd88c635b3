from __future__ import annotations

import pytest

from airflow_provider_criteo.retry import RetryPolicy, is_retryable, server_requested_wait


@pytest.mark.parametrize(("status", "retry"), [(None, True), (429, True), (500, True), (503, True)])
def test_retryable(status, retry):
    assert is_retryable(status) is retry


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 415])
def test_never_retried(status):
    assert not is_retryable(status)


def test_retry_after_wins_over_ratelimit_reset():
    headers = {"Retry-After": "3", "x-ratelimit-reset": "1010"}
    assert server_requested_wait(headers, now=1000) == 3


def test_retry_after_as_http_date():
    assert server_requested_wait({"Retry-After": "Thu, 01 Jan 1970 00:16:50 GMT"}, now=1000) == 10


def test_ratelimit_reset_when_no_retry_after():
    assert server_requested_wait({"x-ratelimit-reset": "1012"}, now=1000) == 12
    assert server_requested_wait({"x-ratelimit-reset": "900"}, now=1000) == 0


def test_ratelimit_reset_only_counts_after_a_429():
    assert server_requested_wait({"x-ratelimit-reset": "1012"}, rate_limited=False, now=1000) is None
    assert RetryPolicy(backoff=0.01).wait(1, 503, {"x-ratelimit-reset": str(2**40)}) <= 0.01


def test_no_server_hint():
    assert server_requested_wait({}, now=1000) is None


def test_exponential_backoff_with_jitter_is_capped():
    policy = RetryPolicy(backoff=1, max_backoff=8)
    for attempt in range(1, 10):
        assert 0 <= policy.wait(attempt, 500, {}) <= min(8, 2 ** (attempt - 1))


def test_server_wait_is_used_with_little_jitter():
    wait = RetryPolicy().wait(1, 503, {"Retry-After": "2"})
    assert 2 <= wait <= 2.25
