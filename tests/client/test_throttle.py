from __future__ import annotations

import pytest

from airflow_provider_criteo.client.throttle import RateLimiter, RateLimitWaitTooLong, reserve, shared_limiter
from tests.helpers import FakeClock


def test_at_most_n_calls_in_any_window():
    clock = FakeClock()
    limiter = RateLimiter(3, window=60, clock=clock, sleep=clock.sleep)
    assert [limiter.acquire() for _ in range(3)] == [0, 0, 0]
    assert limiter.acquire() == 60
    assert clock.now == 60


def test_window_slides():
    clock = FakeClock()
    limiter = RateLimiter(2, window=10, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now = 6
    limiter.acquire()
    assert limiter.acquire() == 4  # the first stamp leaves the window at t=10
    assert limiter.acquire() == 6  # the second at t=16


def test_pause_for_holds_callers():
    clock = FakeClock()
    limiter = RateLimiter(100, clock=clock, sleep=clock.sleep)
    limiter.pause_for(5)
    assert limiter.acquire() == 5


def test_a_lower_announced_limit_paces_the_calls_and_never_raises_above_the_configured_one():
    clock = FakeClock()
    limiter = RateLimiter(5, window=60, clock=clock, sleep=clock.sleep)
    assert [limiter.acquire() for _ in range(4)] == [0, 0, 0, 0]
    limiter.limit_to(2)
    assert limiter.acquire() == 60  # four calls in the window: two must leave before the next
    limiter.limit_to(1000)
    assert limiter.calls == 5


def test_acquire_gives_up_rather_than_wait_past_its_budget():
    clock = FakeClock()
    limiter = RateLimiter(1, window=60, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    with pytest.raises(RateLimitWaitTooLong):
        limiter.acquire(max_wait=10)
    assert clock.now == 0  # it did not sleep first


def test_hooks_of_one_app_share_a_limiter():
    a = shared_limiter("https://api.criteo.com", "app", 250)
    assert shared_limiter("https://api.criteo.com", "app", 250) is a
    assert shared_limiter("https://api.criteo.com", "other-app", 250) is not a


@pytest.mark.parametrize(
    ("limit", "left"), [(250, 13), (1000, 50), (100, 5), (30, 5), (11, 5), (10, 4), (5, 2), (2, 0), (1, 0)]
)
def test_the_reserve_is_a_twentieth_of_the_limit_at_least_five_at_most_half_a_low_one(limit, left):
    assert reserve(limit) == left
