"""Client-side throttling to Criteo's app-wide rate limit (250 calls per rolling minute).

Criteo counts calls per application, so every hook in a process that uses the same app shares one
:class:`RateLimiter` (see :func:`shared_limiter`). Tasks in other processes and on other workers share
the limit too, and the one count they all see is Criteo's: every answer says how many calls remain
(``x-ratelimit-remaining``), and a hook stops calling once no more than :func:`reserve` remain, until
the window resets. The reserve is left for the calls other workers have in flight before their own
next answer tells them to stop; an Airflow pool bounds how many there are. When Criteo announces a
lower limit (``x-ratelimit-limit``), the limiter paces to it.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

from airflow_provider_criteo.defaults import DEFAULT_CALLS_PER_MINUTE

if TYPE_CHECKING:
    from collections.abc import Callable

# Criteo's window is 60 s, counted when calls arrive; ours is counted when calls leave, so it is a
# little longer, lest a call sent exactly 60 s after another reach Criteo inside the same window.
WINDOW_SECONDS = 61.0
#: The calls of a window left to other workers: a twentieth of the limit, and never fewer than five,
#: but never more than half of a low limit, which must leave this worker calls of its own.
RESERVE_SHARE = 0.05
MIN_RESERVE = 5


class RateLimitWaitTooLong(Exception):
    """Acquiring would wait past the caller's deadline; nothing was acquired."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"the next call may only go in {wait:.0f}s")
        self.wait = wait


class RateLimiter:
    """A sliding-window limiter: at most ``calls`` acquisitions in any ``window`` seconds.

    It also honours the server's own view: :meth:`pause_for` blocks every caller for a while, which the
    hook sets from ``x-ratelimit-reset`` when Criteo says no more than :func:`reserve` calls remain,
    and :meth:`limit_to` paces to the limit Criteo announces, never above the one configured.
    """

    def __init__(
        self,
        calls: int = DEFAULT_CALLS_PER_MINUTE,
        window: float = WINDOW_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if calls < 1:
            raise ValueError("calls must be at least 1")
        self.calls = calls
        self.configured_calls = calls
        self.window = window
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._stamps: deque[float] = deque()
        self._paused_until = 0.0

    def acquire(self, max_wait: float = float("inf")) -> float:
        """Block until a call may be made; return the seconds spent waiting.

        :raises RateLimitWaitTooLong: when the call could only go after ``max_wait`` seconds in all.
        """
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._stamps and now - self._stamps[0] >= self.window:
                    self._stamps.popleft()
                wait = max(self._paused_until - now, 0.0)
                if not wait and len(self._stamps) >= self.calls:
                    wait = self._stamps[len(self._stamps) - self.calls] + self.window - now
                if wait <= 0:
                    self._stamps.append(now)
                    return waited
            if waited + wait > max_wait:
                raise RateLimitWaitTooLong(waited + wait)
            self._sleep(wait)
            waited += wait

    def pause_for(self, seconds: float) -> None:
        """Let no call through for ``seconds`` (a bounded wait the caller read from Criteo's headers)."""
        if seconds > 0:
            with self._lock:
                self._paused_until = max(self._paused_until, self._clock() + seconds)

    def limit_to(self, calls: int) -> None:
        """Pace to the limit Criteo announces, within 1 and the configured number of calls."""
        with self._lock:
            self.calls = max(1, min(calls, self.configured_calls))


def reserve(limit: int) -> int:
    """How many of Criteo's ``limit`` calls a window a hook leaves to other workers' calls in flight."""
    return min(max(MIN_RESERVE, math.ceil(limit * RESERVE_SHARE)), (limit - 1) // 2)


_shared: dict[tuple[str, str, int], RateLimiter] = {}
_shared_lock = threading.Lock()


def shared_limiter(base_url: str, client_id: str, calls_per_minute: int) -> RateLimiter:
    """Return the process-wide limiter of one Criteo application."""
    key = (base_url, client_id, calls_per_minute)
    with _shared_lock:
        if key not in _shared:
            _shared[key] = RateLimiter(calls_per_minute)
        return _shared[key]
