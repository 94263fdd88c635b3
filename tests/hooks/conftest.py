from __future__ import annotations

import pytest

from airflow_provider_criteo.hooks.criteo import CriteoHook
from airflow_provider_criteo.throttle import RateLimiter


@pytest.fixture
def hook(criteo_conn):
    """A hook with quick retries and its own limiter, so tests neither wait nor share state."""
    hook = CriteoHook(criteo_conn, timeout=5, retry_backoff=0.01)
    hook.rate_limiter = RateLimiter(1000)
    return hook
