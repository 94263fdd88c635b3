"""Progress lines for long loops in the task log."""

from __future__ import annotations

import time
from typing import Any

PROGRESS_INTERVAL = 10.0


class Progress:
    """Logs a long loop's progress at most every ``interval`` seconds, with its rate."""

    def __init__(self, log: Any, what: str, unit: str, interval: float = PROGRESS_INTERVAL) -> None:
        self._log = log
        self._what = what
        self._unit = unit
        self._interval = interval
        self._started = self._last = time.monotonic()

    def update(self, count: int, detail: str = "") -> None:
        """Report ``count`` items done, if the interval has passed since the last line."""
        now = time.monotonic()
        if now - self._last < self._interval:
            return
        self._last = now
        rate = count / max(now - self._started, 1e-9)
        self._log.info(
            "Progress: %s %s: %d %s (%.0f %s/s)", self._what, detail, count, self._unit, rate, self._unit
        )
