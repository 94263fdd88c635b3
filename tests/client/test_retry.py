from __future__ import annotations

import pytest

from airflow_provider_criteo.client.retry import (
    MAX_SERVER_WAIT,
    RetryPolicy,
    is_retryable,
    ratelimit_reset_wait,
    server_requested_wait,
)

NOW = 1_790_000_000.0  # a Unix time in seconds, late 2026


@pytest.mark.parametrize(("status", "retry"), [(None, True), (429, True), (500, True), (503, True)])
def test_retryable(status, retry):
    assert is_retryable(status) is retry


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 413, 415])
def test_never_retried(status):
    assert not is_retryable(status)


def test_retry_after_wins_over_ratelimit_reset():
    headers = {"Retry-After": "3", "x-ratelimit-reset": str(NOW + 10)}
    assert server_requested_wait(headers, now=NOW) == 3


def test_retry_after_as_http_date():
    assert server_requested_wait({"Retry-After": "Thu, 01 Jan 1970 00:16:50 GMT"}, now=1000) == 10


def test_ratelimit_reset_when_no_retry_after():
    assert server_requested_wait({"x-ratelimit-reset": str(int(NOW) + 12)}, now=NOW) == 12
    assert server_requested_wait({"x-ratelimit-reset": str(int(NOW) - 100)}, now=NOW) == 0


def test_ratelimit_reset_only_counts_after_a_429():
    assert server_requested_wait({"x-ratelimit-reset": str(NOW + 12)}, rate_limited=False, now=NOW) is None
    assert RetryPolicy(backoff=0.01).wait(1, 503, {"x-ratelimit-reset": str(2**40)}) <= 0.01


def test_no_server_hint():
    assert server_requested_wait({}, now=1000) is None


@pytest.mark.parametrize(
    ("reset", "wait"),
    [
        (str(int(NOW * 1000) + 5_000), 5),  # milliseconds, as a proxy may send it
        ("7", 7),  # seconds from now
        (str(NOW + 3600), MAX_SERVER_WAIT),  # an hour ahead: bounded, the retry will ask again
        ("1e300", MAX_SERVER_WAIT),
        (str(NOW - 30), 0),  # in the past
        ("-5", 0),
    ],
)
def test_odd_ratelimit_resets_give_bounded_waits(reset, wait):
    assert ratelimit_reset_wait(reset, now=NOW) == pytest.approx(wait)


@pytest.mark.parametrize("reset", ["NaN", "inf", "-inf", "soon", "", "1e400", " "])
def test_unreadable_ratelimit_resets_are_ignored(reset):
    assert ratelimit_reset_wait(reset, now=NOW) is None


@pytest.mark.parametrize("retry_after", ["1e400", "NaN", "5000", "999999999999", "-3", "inf"])
def test_odd_retry_afters_never_make_a_long_or_crashing_wait(retry_after):
    wait = RetryPolicy(backoff=0.01).wait(1, 429, {"Retry-After": retry_after})
    assert 0 <= wait <= MAX_SERVER_WAIT + 0.01


def test_a_429_whose_reset_has_passed_backs_off_instead_of_spinning():
    policy = RetryPolicy(backoff=1, max_backoff=8)
    waits = [policy.wait(attempt, 429, {"x-ratelimit-reset": str(NOW - 5)}) for attempt in range(1, 200)]
    assert sum(waits) > 100  # full jitter over growing steps: never a tight loop of immediate retries


def test_exponential_backoff_with_jitter_is_capped():
    policy = RetryPolicy(backoff=1, max_backoff=8)
    for attempt in range(1, 10):
        assert 0 <= policy.wait(attempt, 500, {}) <= min(8, 2 ** (attempt - 1))


def test_server_wait_is_used_with_little_jitter():
    wait = RetryPolicy().wait(1, 503, {"Retry-After": "2"})
    assert 2 <= wait <= 2.25


def test_a_very_long_run_of_429s_never_overflows_the_backoff():
    assert 0 <= RetryPolicy(backoff=0.5).wait(5000, 429, {}) <= 60


@pytest.mark.parametrize("backoff", [0, -1, float("nan")])
def test_a_backoff_that_would_retry_at_once_is_refused(backoff):
    with pytest.raises(ValueError, match="retry_backoff"):
        RetryPolicy(backoff=backoff)
