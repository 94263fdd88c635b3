"""HTTP calls to Criteo's API for one application: tokens, pacing, retries, bounded bodies, checked answers.

No Airflow here: the hook gives :class:`CriteoTransport` the connection's settings, a session, a logger
and a callback that masks each access token.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import requests
import urllib3

from airflow_provider_criteo.client import errors
from airflow_provider_criteo.client.resources import problems_of
from airflow_provider_criteo.client.retry import is_retryable, ratelimit_reset_wait
from airflow_provider_criteo.client.throttle import RateLimitWaitTooLong, reserve, shared_limiter
from airflow_provider_criteo.exceptions import (
    CriteoConfigurationError,
    CriteoRateLimitError,
    CriteoResponseError,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_criteo.client.retry import RetryPolicy
    from airflow_provider_criteo.exceptions import CriteoApiError

T = TypeVar("T")

# Refresh a token this long before Criteo says it expires (capped at a fifth of its lifetime).
TOKEN_REFRESH_MARGIN = 60.0
# Criteo's tokens last 15 minutes; a token answer without a usable lifetime is taken to last that long
# (a 401 still renews a token that expired sooner).
DEFAULT_TOKEN_LIFETIME = 900.0
# No Criteo answer comes near this (a search page of 100 segments is ~100 kB): anything larger is refused.
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
# A response already arriving when the call's deadline passes may take this much longer to finish: the
# deadline bounds a body trickled byte by byte, not an answer that is only a moment late.
BODY_GRACE = 1.0

# Failures of the transport itself: no (complete) response, so the call may be retried.
_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)


class Log(Protocol):
    """The logger the transport writes to (a ``logging.Logger``, or the hook's Airflow logger)."""

    def debug(self, msg: str, /, *args: Any) -> object:
        """Log at debug level."""

    def info(self, msg: str, /, *args: Any) -> object:
        """Log at info level."""

    def warning(self, msg: str, /, *args: Any) -> object:
        """Log at warning level."""


class CriteoTransport:
    """Send calls to one Criteo application's API and return their answers, or raise what went wrong.

    It fetches OAuth2 client-credentials tokens and refreshes them before they expire (and once on a
    401), throttles to the app's calls per minute, and retries 429, 5xx and connection errors with the
    backoff the server asks for, within the retry policy's deadline.

    :param base_url: the API root (``https://api.criteo.com``).
    :param api_version: the version every API path starts with (``2026-07``).
    :param client_id: the app's client id.
    :param client_secret: the app's client secret.
    :param conn_id: the name of the connection these settings come from, which errors and warnings name.
    :param ca_bundle: CA certificates to verify TLS with, instead of the system's.
    :param session: the HTTP session every call goes through.
    :param timeout: seconds to wait for a connection and for a response, per attempt.
    :param retry_policy: how many times and for how long a call is retried.
    :param calls_per_minute: client-side cap shared by every transport of this app in the process.
    :param log: where retries, refreshes and Criteo's warnings are logged.
    :param on_token: called with each access token fetched, before it is used (to mask it in logs).
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_version: str,
        client_id: str,
        client_secret: str,
        conn_id: str,
        ca_bundle: str | None,
        session: requests.Session,
        timeout: float,
        retry_policy: RetryPolicy,
        calls_per_minute: int,
        log: Log,
        on_token: Callable[[str], object],
    ) -> None:
        self.base_url = base_url
        self.api_version = api_version
        self.client_id = client_id
        self.client_secret = client_secret
        self.conn_id = conn_id
        self.ca_bundle = ca_bundle
        self.session = session
        self.timeout = timeout
        self.retry_policy = retry_policy
        self.rate_limiter = shared_limiter(base_url, client_id, calls_per_minute)
        self.log = log
        self.on_token = on_token
        self._token: str | None = None
        self._token_refresh_at = 0.0
        self._warned: set[tuple[Any, ...]] = set()

    def endpoint(self, path: str) -> str:
        """The endpoint of an API path in the configured version (``/2026-07/advertisers/me``)."""
        return f"/{self.api_version}/{path}"

    # ---------------------------------------------------------------------------------- API calls

    def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        allow_errors: bool = False,
        precondition: Callable[[], object] | None = None,
    ) -> dict[str, Any]:
        """Call an API path and return its JSON envelope, raising on errors in a 2xx body.

        :param allow_errors: return an envelope with ``errors`` too (a bulk call whose items may fail).
        :param precondition: runs right before each attempt; what it raises ends the call.
        """
        endpoint = self.endpoint(path)
        response = self._send(method, endpoint, params=params, body=body, precondition=precondition)
        envelope = self._json(response, method, endpoint)
        self._report_warnings(method, endpoint, response, envelope)
        problems = problems_of(envelope, "errors")
        if problems and not allow_errors:
            raise errors.api_error(method, endpoint, response, conn_id=self.conn_id, problem=problems[0])
        return envelope

    def parse(self, method: str, path: str, envelope: dict[str, Any], parser: Callable[[Any], T]) -> T:
        """Apply a resource parser, turning a body that breaks the contract into a clear error."""
        try:
            return parser(envelope)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise CriteoResponseError(
                method=method,
                endpoint=self.endpoint(path),
                status=200,
                detail=f"the response lacks what the API documents: {type(err).__name__}: {err}",
            ) from None

    def item_failure(self, method: str, path: str, envelope: dict[str, Any], what: str) -> CriteoApiError:
        """The error of a bulk call to an API path whose item was not applied (``what`` if Criteo is mute)."""
        return errors.item_failure(method, self.endpoint(path), envelope, what)

    # ---------------------------------------------------------------------------------- auth

    def access_token(self, *, until: float | None = None) -> str:
        """Return a valid access token, fetching a new one when the cached one is about to expire.

        :param until: the ``time.monotonic()`` by which a fetch must end (the deadline of the call that
            needs the token); by default the fetch has a retry deadline of its own.
        """
        if self._token is None or time.monotonic() >= self._token_refresh_at:
            self._fetch_token(until)
        assert self._token is not None
        return self._token

    def _fetch_token(self, until: float | None) -> None:
        response = self._send(
            "POST",
            errors.TOKEN_ENDPOINT,
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
            authenticated=False,
            until=until,
        )
        body = self._json(response, "POST", errors.TOKEN_ENDPOINT)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise errors.malformed("POST", errors.TOKEN_ENDPOINT, response, KeyError("access_token"))
        lifetime = _token_lifetime(body.get("expires_in"))
        self.on_token(token)
        self._token = token
        self._token_refresh_at = time.monotonic() + lifetime - min(TOKEN_REFRESH_MARGIN, lifetime / 5)

    # ---------------------------------------------------------------------------------- HTTP core

    def _send(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        data: dict[str, str] | None = None,
        authenticated: bool = True,
        until: float | None = None,
        precondition: Callable[[], object] | None = None,
    ) -> requests.Response:
        """Send one call with throttling, the one-refresh-on-401 rule and retries; return a 2xx.

        The call, token fetches included, ends within the retry deadline of its start, or by ``until``
        (a ``time.monotonic()``) when that is sooner. ``precondition`` runs right before each attempt;
        what it raises ends the call.
        """
        if body is None:
            payload: bytes | dict[str, str] | None = data
        elif isinstance(body, bytes):
            payload = body  # JSON encoded by the caller
        else:
            payload = json.dumps(body, separators=(",", ":")).encode()
        headers = {} if body is None else {"Content-Type": "application/json"}
        policy = self.retry_policy
        started = time.monotonic()
        deadline = started + policy.deadline if until is None else min(started + policy.deadline, until)
        refreshed = False
        attempt = failures = 0
        while True:
            if authenticated:
                headers["Authorization"] = f"Bearer {self.access_token(until=deadline)}"
            self._pace(method, endpoint, deadline)
            if precondition is not None:
                precondition()
            budget = max(deadline - time.monotonic(), 0.0)
            response, failure = self._attempt(method, endpoint, params, payload, headers, budget)
            if response is not None:
                if response.ok:
                    return response
                if response.status_code == 401 and authenticated and not refreshed:
                    self.log.info(
                        "Criteo refused the access token on %s %s; fetching a new one.", method, endpoint
                    )
                    self._token, refreshed = None, True
                    continue
                if not is_retryable(response.status_code):
                    raise errors.api_error(method, endpoint, response, conn_id=self.conn_id)
            status = None if response is None else response.status_code
            attempt += 1
            # A 429 is Criteo pacing us, not a failure: it is bounded by the deadline alone.
            failures += status != 429
            wait = policy.wait(attempt, status, None if response is None else response.headers)
            elapsed = time.monotonic() - started
            if failures > policy.max_retries or time.monotonic() + wait > deadline:
                raise errors.gave_up(
                    method, endpoint, response, failure, attempt, elapsed, conn_id=self.conn_id
                )
            self.log.warning(
                "Criteo %s %s: %s; retrying in %.1fs (attempt %d, %d of %d failure retries used).",
                method,
                endpoint,
                f"status {status}" if response is not None else type(failure).__name__,
                wait,
                attempt,
                failures,
                policy.max_retries,
            )
            time.sleep(wait)

    def _pace(self, method: str, endpoint: str, deadline: float) -> None:
        """Wait for the rate limiter, never past the call's deadline (a ``time.monotonic()``)."""
        remaining = deadline - time.monotonic()
        try:
            self.rate_limiter.acquire(max_wait=max(remaining, 0.0))
        except RateLimitWaitTooLong as err:
            raise CriteoRateLimitError(
                method=method,
                endpoint=endpoint,
                status=None,
                detail=f"Criteo's rate limit allows the call only in {err.wait:.0f}s, past retry_deadline",
                hint="Lower the concurrency of Criteo tasks (an Airflow pool) or raise retry_deadline",
            ) from None

    def _attempt(
        self,
        method: str,
        endpoint: str,
        params: dict[str, Any] | None,
        payload: bytes | dict[str, str] | None,
        headers: dict[str, str],
        budget: float,
    ) -> tuple[requests.Response | None, Exception | None]:
        """Make one HTTP request (paced by the caller); a transport failure is returned, not raised.

        Connecting, and its whole body, must each take no longer than ``timeout`` and what is left of the
        call's ``budget`` (the retry deadline, plus :data:`BODY_GRACE`): a body trickling byte by byte
        never trips the socket's own timeout.
        """
        url = self.base_url + endpoint
        limit = min(self.timeout, budget + BODY_GRACE)
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                data=payload,
                headers=headers,
                timeout=(limit, limit),
                verify=self.ca_bundle or True,
                stream=True,
            )
            _read_capped(method, endpoint, response, within=limit)
        except requests.exceptions.SSLError as err:
            raise CriteoConfigurationError(
                f"TLS verification of {self.base_url} failed ({type(err).__name__}). It cannot be "
                "turned off: if a proxy re-signs the traffic, set the extra ca_bundle of connection "
                f"{self.conn_id!r} to the path of its CA certificates."
            ) from None
        except _TRANSIENT as err:
            return None, err
        self._note_rate_limit(response)
        return response, None

    def _note_rate_limit(self, response: requests.Response) -> None:
        """Pace to what Criteo says: the app's limit, and no call before the reset once only the
        reserve of other workers remains (Criteo's count is the one every worker of the app shares).
        """
        limit = _header_int(response.headers.get("x-ratelimit-limit"))
        if limit is not None and limit >= 1 and limit != self.rate_limiter.calls:
            self.rate_limiter.limit_to(limit)
        remaining = _header_int(response.headers.get("x-ratelimit-remaining"))
        # The reserve is a share of Criteo's own limit, whatever share of it this worker is configured to.
        window = limit if limit is not None and limit >= 1 else self.rate_limiter.calls
        if remaining is None or remaining > reserve(window):
            return
        reset = response.headers.get("x-ratelimit-reset")
        wait = ratelimit_reset_wait(reset)
        if wait is None:
            self.log.debug(
                "%d call(s) remain in Criteo's window, and no readable reset (%r).", remaining, reset
            )
            return
        self.log.info(
            "%d of Criteo's %d calls a minute remain, left to other workers: waiting %.0fs for the reset.",
            remaining,
            window,
            wait,
        )
        self.rate_limiter.pause_for(wait)

    # ---------------------------------------------------------------------------------- answers

    def _json(self, response: requests.Response, method: str, endpoint: str) -> dict[str, Any]:
        """The answer's body, which must be a JSON object."""
        try:
            body = response.json()
        except ValueError as err:
            raise errors.malformed(method, endpoint, response, err) from None
        if not isinstance(body, dict):
            raise errors.malformed(method, endpoint, response, TypeError("not a JSON object"))
        return body

    def _report_warnings(
        self, method: str, endpoint: str, response: requests.Response, envelope: dict[str, Any]
    ) -> None:
        """Log Criteo's warnings and version deprecation headers, each once per transport, not per call."""
        deprecation = {h: response.headers[h] for h in ("Deprecation", "Sunset") if h in response.headers}
        if deprecation:
            self._warn_once(
                ("deprecation", self.api_version),
                "Criteo API version %s is deprecated (%s): set a newer api_version on connection %r.",
                self.api_version,
                ", ".join(f"{name}: {value}" for name, value in deprecation.items()),
                self.conn_id,
            )
        for warning in problems_of(envelope, "warnings"):
            detail = warning.get("detail") or warning.get("title")
            self._warn_once(
                (warning.get("code"), detail),
                "Criteo %s %s warns: %s (%s)",
                method,
                endpoint,
                warning.get("code"),
                detail,
            )

    def _warn_once(self, key: tuple[Any, ...], message: str, *args: Any) -> None:
        """Log a warning the first time ``key`` comes up."""
        if key not in self._warned:
            self._warned.add(key)
            self.log.warning(message, *args)


def _read_capped(method: str, endpoint: str, response: requests.Response, *, within: float) -> None:
    """Read the body within ``within`` seconds, refusing one larger than any Criteo answer.

    The body is read as it arrives (``read1``), so a body that takes longer (trickled byte by byte,
    which no socket timeout trips) is cut and reported as a timeout, which the caller retries within
    its deadline; a body too large (a proxy page, a runaway server) fails.
    """
    deadline = time.monotonic() + within
    body = bytearray()
    try:
        while chunk := response.raw.read1(64 * 1024, decode_content=True):
            body += chunk
            if len(body) > MAX_RESPONSE_BYTES:
                response.close()
                raise CriteoResponseError(
                    method=method,
                    endpoint=endpoint,
                    status=response.status_code,
                    detail=f"the response body exceeds {MAX_RESPONSE_BYTES:,} bytes; it was not read",
                )
            if time.monotonic() > deadline:
                response.close()
                raise requests.Timeout(f"the response body took over {within:.0f}s")
    except urllib3.exceptions.HTTPError as err:  # what requests would have raised as its own
        raise requests.ConnectionError(f"{type(err).__name__} while reading the response") from None
    response._content = bytes(body)


def _header_int(value: str | None) -> int | None:
    """A header holding a whole number, or None when absent or not one."""
    try:
        return int(value.strip()) if value is not None else None
    except ValueError:
        return None


def _token_lifetime(value: Any) -> float:
    """The seconds a token is valid: ``expires_in`` when it is a positive number, else Criteo's 15 minutes."""
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < float("inf"):
        return float(value)
    return DEFAULT_TOKEN_LIFETIME
