"""The emulated rate limit: a rolling one-minute window of calls per application."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_criteo.sandbox.problems import ApiProblem, status_problem

if TYPE_CHECKING:
    from collections.abc import Iterable

RATE_WINDOW_SECONDS = 60.0


@dataclass(frozen=True)
class RateStatus:
    """The outcome of one rate-limit check for an application."""

    limit: int
    remaining: int
    reset: int
    allowed: bool

    def headers(self) -> dict[str, str]:
        """The ``x-ratelimit-*`` response headers for this status."""
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(self.reset),
        }

    def refusal(self) -> ApiProblem:
        """The 429 answered to a call over the limit."""
        return status_problem(
            429, f"Rate limit of {self.limit} calls per minute exceeded for this application."
        )


class RateLimiter:
    """The calls of each application in the last minute, guarded by ``lock``."""

    def __init__(self, lock: threading.RLock | None = None) -> None:
        """No call counted yet; ``lock`` is shared with the state that owns the limiter."""
        self._lock = lock or threading.RLock()
        self._windows: dict[str, deque[float]] = {}

    def consume(self, client_id: str, limit: int) -> RateStatus:
        """Count one call for an app against its rolling one-minute window (a refused call is not counted)."""
        with self._lock:
            now = time.time()
            window = self._windows.setdefault(client_id, deque())
            while window and window[0] <= now - RATE_WINDOW_SECONDS:
                window.popleft()
            allowed = len(window) < limit
            if allowed:
                window.append(now)
            return RateStatus(limit, max(limit - len(window), 0), _reset_time(window, now), allowed)

    def peek(self, client_id: str | None, limit: int) -> RateStatus:
        """The rate-limit status of an app (or of an unknown caller) without counting a call."""
        with self._lock:
            now = time.time()
            window = [t for t in self._windows.get(client_id or "", ()) if t > now - RATE_WINDOW_SECONDS]
            return RateStatus(limit, max(limit - len(window), 0), _reset_time(window, now), True)

    def clear(self) -> None:
        """Forget every counted call."""
        with self._lock:
            self._windows.clear()


def _reset_time(window: Iterable[float], now: float) -> int:
    """When a call may succeed again: a minute after the oldest counted call (now when there is none)."""
    oldest = next(iter(window), None)
    return math.ceil(oldest + RATE_WINDOW_SECONDS if oldest is not None else now)
