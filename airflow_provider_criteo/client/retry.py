"""When to retry a Criteo call, and how long to wait first.

Criteo's contract: retry 429, 5xx and connection errors; never 400, 401 (after the one token
refresh), 403, 404 or 413. Wait as the server asks: ``Retry-After`` when present, else
``x-ratelimit-reset``, else exponential backoff with full jitter.

What a proxy or a later API version sends in those headers is read defensively: a reset in
milliseconds or as a number of seconds from now, one in the past, in hours, ``NaN``: no value makes
the client crash, spin, or wait longer than :data:`MAX_SERVER_WAIT` at a time.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

#: The longest single wait a server's header can ask for: Criteo's rate-limit window is a minute, so a
#: reset further ahead is a misreading (or a quota a retry will report again); waits repeat, within the
#: call's ``retry_deadline``, rather than trust one number for hours.
MAX_SERVER_WAIT = 61.0
# Unix times in seconds are below this until the year 5138; above it, a reset is in milliseconds.
_MILLISECONDS_ABOVE = 1e11
# No current Unix time in seconds is below this (2001): such a reset counts seconds from now.
_SECONDS_FROM_NOW_BELOW = 1e9


def is_retryable(status: int | None) -> bool:
    """Whether a failed call may be retried (``None`` means no response: a connection error)."""
    return status is None or status == 429 or status >= 500


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def ratelimit_reset_wait(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds until an ``x-ratelimit-reset``, at most :data:`MAX_SERVER_WAIT`; None if unreadable.

    Criteo sends Unix seconds; milliseconds and seconds-from-now are recognised by their size, and a
    reset in the past means no wait.
    """
    number = _number(value.strip()) if value else None
    if number is None:
        return None
    now = time.time() if now is None else now
    if number > _MILLISECONDS_ABOVE:
        number /= 1000
    delay = number if number < _SECONDS_FROM_NOW_BELOW else number - now
    return min(max(delay, 0.0), MAX_SERVER_WAIT)


def retry_after_wait(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds a ``Retry-After`` asks for (seconds or an HTTP date), at most :data:`MAX_SERVER_WAIT`."""
    if not value:
        return None
    number = _number(value.strip())
    if number is None:
        try:
            number = parsedate_to_datetime(value).timestamp() - (time.time() if now is None else now)
        except (TypeError, ValueError, OverflowError):
            return None
    return min(max(number, 0.0), MAX_SERVER_WAIT)


def server_requested_wait(
    headers: Mapping[str, str], *, rate_limited: bool = True, now: float | None = None
) -> float | None:
    """Seconds the server asked us to wait, from ``Retry-After`` or ``x-ratelimit-reset``; else None.

    ``x-ratelimit-reset`` (the end of the rate-limit window, sent on every response) only says
    when to come back after a 429; ``Retry-After`` is honoured on any status.
    """
    wait = retry_after_wait(headers.get("Retry-After"), now=now)
    if wait is None and rate_limited:
        wait = ratelimit_reset_wait(headers.get("x-ratelimit-reset"), now=now)
    return wait


@dataclass(frozen=True)
class RetryPolicy:
    """How many times and for how long a call is retried.

    :param max_retries: retries after 5xx or connection failures.
    :param deadline: seconds after the first attempt beyond which no retry starts.
    :param backoff: first exponential backoff step, in seconds; doubles per attempt.
    :param max_backoff: cap of one exponential backoff step, in seconds.
    """

    max_retries: int = 8
    deadline: float = 900.0
    backoff: float = 1.0
    max_backoff: float = 60.0

    def __post_init__(self) -> None:
        if not self.backoff > 0 or not self.max_backoff > 0:
            raise ValueError(
                "retry_backoff must be a positive number of seconds: a zero backoff retries at once"
            )

    def wait(self, attempt: int, status: int | None, headers: Mapping[str, str] | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based) after a failure with ``status``.

        A server that asks for no wait at all (a reset in the past) gets the exponential backoff:
        retrying at once would only meet the same answer.
        """
        requested = server_requested_wait(headers or {}, rate_limited=status == 429)
        if requested:
            # A little jitter so that tasks throttled together do not all come back at once.
            return requested + random.uniform(0, min(self.backoff, 1.0) / 4)
        return random.uniform(0, min(self.max_backoff, self.backoff * 2 ** min(attempt - 1, 32)))
