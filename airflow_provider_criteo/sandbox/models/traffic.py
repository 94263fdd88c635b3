"""What the emulator does to calls, apart from what Criteo holds: settings, faults, rate limits, journal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_criteo.sandbox.faults import Fault, FaultQueue, checked_fault
from airflow_provider_criteo.sandbox.journal import Journal
from airflow_provider_criteo.sandbox.rate_limit import RateLimiter
from airflow_provider_criteo.sandbox.settings import Settings

if TYPE_CHECKING:
    import threading
    from collections.abc import Mapping

    from airflow_provider_criteo.sandbox.journal import RecordedRequest
    from airflow_provider_criteo.sandbox.rate_limit import RateStatus


class Traffic:
    """The settings, injected faults, rate-limit windows and journal of calls, under the world's lock."""

    def __init__(self, lock: threading.RLock, settings: Settings | None) -> None:
        self.lock = lock
        self._initial_settings = settings or Settings()
        self._settings = self._initial_settings
        self._rates = RateLimiter(lock)
        self._faults = FaultQueue(lock)
        self._journal = Journal(lock)

    def reset_traffic(self) -> None:
        """Back to the initial settings, with no fault, no counted call and an empty journal."""
        with self.lock:
            self._rates.clear()
            self._faults.clear()
            self._journal.clear()
            self._settings = self._initial_settings

    def clear_rates(self) -> None:
        """Forget every rate-limit window."""
        self._rates.clear()

    @property
    def settings(self) -> Settings:
        """The current settings."""
        return self._settings

    def configure(
        self,
        *,
        token_lifetime: float | None = None,
        latency: float | None = None,
        rate_limit_per_minute: int | None = None,
        record_bodies: bool | None = None,
        schema_minimal: bool | None = None,
        pending_statistics: bool | None = None,
    ) -> Settings:
        """Change the given settings (``None`` keeps a setting) and return the result."""
        changes = {
            "token_lifetime": token_lifetime,
            "latency": latency,
            "rate_limit_per_minute": rate_limit_per_minute,
            "record_bodies": record_bodies,
            "schema_minimal": schema_minimal,
            "pending_statistics": pending_statistics,
        }
        with self.lock:
            self._settings = self._settings.updated(changes)
            return self._settings

    def inject_fault(
        self,
        path: str = "",
        method: str | None = None,
        status: int | None = None,
        count: int = 1,
        headers: Mapping[str, str] | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        drop_connection: bool = False,
        apply: bool = False,
        body: str | None = None,
        content_type: str = "application/json",
    ) -> Fault:
        """Make the next ``count`` matching requests fail (status, delay, dropped connection, raw body).

        With ``body``, the answer is that raw text with ``status`` (any 2xx-5xx: a hostile 200 too).
        With ``headers`` alone, the request runs and its answer carries them (odd rate-limit headers).
        """
        fault = checked_fault(
            Fault(
                path=path,
                method=method,
                status=status,
                count=count,
                headers={str(name): str(value) for name, value in (headers or {}).items()},
                retry_after=retry_after,
                delay=delay,
                drop_connection=drop_connection,
                apply=apply,
                body=body,
                content_type=content_type,
            )
        )
        self._faults.add(fault)
        return fault

    @property
    def requests(self) -> list[RecordedRequest]:
        """The journal of API calls, oldest first (the last 10,000)."""
        return self._journal.entries()

    def clear_requests(self) -> None:
        """Empty the journal."""
        self._journal.clear()

    def consume_rate(self, client_id: str) -> RateStatus:
        """Count one call for an app against its rolling one-minute window (a refused call is not counted)."""
        with self.lock:
            return self._rates.consume(client_id, self._settings.rate_limit_per_minute)

    def peek_rate(self, client_id: str | None) -> RateStatus:
        """The rate-limit status of an app (or of an unknown caller) without counting a call."""
        with self.lock:
            return self._rates.peek(client_id, self._settings.rate_limit_per_minute)

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first queued fault matching a request, consuming one of its uses."""
        return self._faults.take(method, path)

    def record(self, entry: RecordedRequest) -> None:
        """Append a call to the journal."""
        self._journal.record(entry)
