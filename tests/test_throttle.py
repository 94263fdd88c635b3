from __future__ import annotations

import time

from airflow_provider_criteo.throttle import RateLimiter, shared_limiter
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


def test_pause_until_holds_callers():
    clock = FakeClock()
    limiter = RateLimiter(100, clock=clock, sleep=clock.sleep)
    limiter.pause_until(time.time() + 5)
    assert 4 < limiter.acquire() <= 5


def test_hooks_of_one_app_share_a_limiter():
    a = shared_limiter("https://api.criteo.com", "app", 250)
    assert shared_limiter("https://api.criteo.com", "app", 250) is a
    assert shared_limiter("https://api.criteo.com", "other-app", 250) is not a
