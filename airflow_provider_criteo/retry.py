"""When to retry a Criteo call, and how long to wait first.

Criteo's contract: retry 429, 5xx and connection errors; never 400, 401 (after the one token
refresh), 403, 404 or 413. Wait as the server asks: ``Retry-After`` when present, else
``x-ratelimit-reset``, else exponential backoff with full jitter.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping


def is_retryable(status: int | None) -> bool:
    """Whether a failed call may be retried (``None`` means no response: a connection error)."""
    return status is None or status == 429 or status >= 500


def server_requested_wait(
    headers: Mapping[str, str], *, rate_limited: bool = True, now: float | None = None
) -> float | None:
    """Seconds the server asked us to wait, from ``Retry-After`` or ``x-ratelimit-reset``; else None.

    ``x-ratelimit-reset`` (the end of the rate-limit window, sent on every response) only says
    when to come back after a 429; ``Retry-After`` is honoured on any status.
    """
    now = time.time() if now is None else now
    retry_after = headers.get("Retry-After")
    if retry_after:
        try:
            return max(float(retry_after), 0.0)
        except ValueError:
            try:
                return max(parsedate_to_datetime(retry_after).timestamp() - now, 0.0)
            except (TypeError, ValueError):
                pass
    reset = headers.get("x-ratelimit-reset")
    if reset and rate_limited:
        try:
            return max(float(reset) - now, 0.0)
        except ValueError:
            return None
    return None


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

    def wait(self, attempt: int, status: int | None, headers: Mapping[str, str] | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based) after a failure with ``status``."""
        requested = server_requested_wait(headers or {}, rate_limited=status == 429)
        if requested is not None:
            # A little jitter so that tasks throttled together do not all come back at once.
            return requested + random.uniform(0, min(self.backoff, 1.0) / 4)
        return random.uniform(0, min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))
