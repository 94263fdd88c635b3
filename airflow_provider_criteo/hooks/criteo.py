"""CriteoHook: credentials and typed calls for Criteo's Marketing Solutions audience API."""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import requests
import urllib3
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from airflow_provider_criteo import __version__
from airflow_provider_criteo.client.resources import (
    API_IDENTIFIER_TYPES,
    MAX_IDENTIFIERS_PER_REQUEST,
    Advertiser,
    AmendmentResult,
    AudienceSegment,
    ContactListStatistics,
    attributes_of,
    data_list,
)
from airflow_provider_criteo.client.retry import RetryPolicy, is_retryable, ratelimit_reset_wait
from airflow_provider_criteo.client.throttle import (
    DEFAULT_CALLS_PER_MINUTE,
    RateLimiter,
    RateLimitWaitTooLong,
    shared_limiter,
)
from airflow_provider_criteo.client.wire import hex_json_array
from airflow_provider_criteo.defaults import CONN_TYPE, DEFAULT_CONN_ID
from airflow_provider_criteo.exceptions import (
    CriteoApiError,
    CriteoAuthenticationError,
    CriteoConfigurationError,
    CriteoNotFoundError,
    CriteoPermissionError,
    CriteoRateLimitError,
    CriteoResponseError,
    CriteoServerError,
    CriteoValidationError,
    CriteoVersionGoneError,
)
from airflow_provider_criteo.hooks.connection import CriteoConnectionConfig
from airflow_provider_criteo.identifiers.values import DIGEST_DTYPE

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

T = TypeVar("T")

SEARCH_PAGE_SIZE = 100
NAME_MUST_BE_UNIQUE = "name-must-be-unique"
SEGMENT_NOT_FOUND = "segment-not-found"
CONTACT_LIST_READ_ONLY = "contact-list-read-only"
# Codes of warnings about the API itself, not about one item of a bulk call.
_DEPRECATION_CODES = frozenset({"deprecated-field", "endpoint-deprecated"})
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
# Seconds the connection test (a person waiting on the UI's Test button) may take per attempt.
TEST_CONNECTION_TIMEOUT = 10.0

# Failures of the transport itself: no (complete) response, so the call may be retried.
_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)

_ERROR_CLASSES: dict[int, type[CriteoApiError]] = {
    400: CriteoValidationError,
    401: CriteoAuthenticationError,
    403: CriteoPermissionError,
    404: CriteoNotFoundError,
    410: CriteoVersionGoneError,
    413: CriteoValidationError,
    415: CriteoValidationError,
    429: CriteoRateLimitError,
}


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Split any iterable into lists of at most ``size`` items, without materialising it."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


class CriteoHook(BaseHook):
    """Talk to Criteo's Marketing Solutions API with the credentials of a ``criteo`` connection.

    It fetches OAuth2 client-credentials tokens and refreshes them before they expire (and once on
    a 401), keeps one HTTP session alive, throttles to the app's calls per minute, and retries
    429, 5xx and connection errors with the backoff the server asks for, within a deadline.
    Nothing is read from the connection until the first call.

    :param criteo_conn_id: the Airflow connection holding the client id, secret and extras.
    :param timeout: seconds to wait for a connection and for a response, per attempt.
    :param max_retries: retries of one call after a 5xx or connection error (429s are bounded by
        ``retry_deadline`` alone: they are Criteo pacing the app, not failures).
    :param retry_deadline: seconds after the first attempt of a call beyond which no retry starts.
    :param retry_backoff: first exponential backoff step in seconds (doubles per attempt).
    :param calls_per_minute: client-side cap shared by all hooks of this app in the process.
    """

    conn_name_attr = "criteo_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Criteo"

    def __init__(
        self,
        criteo_conn_id: str = DEFAULT_CONN_ID,
        *,
        timeout: float = 120.0,
        max_retries: int = 8,
        retry_deadline: float = 900.0,
        retry_backoff: float = 1.0,
        calls_per_minute: int = DEFAULT_CALLS_PER_MINUTE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.criteo_conn_id = criteo_conn_id
        self.timeout = timeout
        self.retry_policy = RetryPolicy(
            max_retries=max_retries, deadline=retry_deadline, backoff=retry_backoff
        )
        self.calls_per_minute = calls_per_minute
        self._token: str | None = None
        self._token_refresh_at = 0.0
        self._warned: set[tuple[Any, ...]] = set()

    # ----------------------------------------------------------------- configuration and transport

    @cached_property
    def config(self) -> CriteoConnectionConfig:
        """The connection's settings, read once; the client secret is registered for masking."""
        config = CriteoConnectionConfig.from_connection(self.get_connection(self.criteo_conn_id))
        mask_secret(config.client_secret)
        return config

    @cached_property
    def session(self) -> requests.Session:
        """One keep-alive HTTP session for every call of this hook."""
        session = requests.Session()
        session.headers.update(
            {"Accept": "application/json", "User-Agent": f"airflow-provider-criteo/{__version__}"}
        )
        return session

    @cached_property
    def rate_limiter(self) -> RateLimiter:
        """The process-wide limiter of this connection's Criteo application."""
        return shared_limiter(self.config.base_url, self.config.client_id, self.calls_per_minute)

    def get_conn(self) -> requests.Session:
        """Return the HTTP session (Airflow's hook convention)."""
        return self.session

    @property
    def advertiser_id(self) -> str | None:
        """The connection's default advertiser id."""
        return self.config.advertiser_id

    def resolve_advertiser(self, advertiser_id: str | None = None) -> str:
        """``advertiser_id``, else the connection's; fail saying where to set one when neither is."""
        resolved = advertiser_id or self.config.advertiser_id
        if not resolved:
            raise CriteoConfigurationError(
                f"No Criteo advertiser id: set advertiser_id in the extras of connection "
                f"{self.criteo_conn_id!r} or pass advertiser_id to the task."
            )
        return str(resolved)

    def _api_path(self, path: str) -> str:
        return f"/{self.config.api_version}/{path}"

    # ---------------------------------------------------------------------------------- auth

    def get_access_token(self, *, until: float | None = None) -> str:
        """Return a valid access token, fetching a new one when the cached one is about to expire.

        :param until: the ``time.monotonic()`` by which a fetch must end (the deadline of the call that
            needs the token); by default the fetch has a ``retry_deadline`` of its own.
        """
        if self._token is None or time.monotonic() >= self._token_refresh_at:
            self._fetch_token(until)
        assert self._token is not None
        return self._token

    def _fetch_token(self, until: float | None) -> None:
        config = self.config
        response = self._send(
            "POST",
            "/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": config.client_id,
                "client_secret": config.client_secret,
            },
            authenticated=False,
            until=until,
        )
        body = self._json(response, "POST", "/oauth2/token")
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise self._malformed("POST", "/oauth2/token", response, KeyError("access_token"))
        lifetime = _token_lifetime(body.get("expires_in"))
        mask_secret(token)
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

        The call, token fetches included, ends within ``retry_deadline`` of its start, or by ``until``
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
                headers["Authorization"] = f"Bearer {self.get_access_token(until=deadline)}"
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
                    raise self._api_error(method, endpoint, response)
            status = None if response is None else response.status_code
            attempt += 1
            # A 429 is Criteo pacing us, not a failure: it is bounded by the deadline alone.
            failures += status != 429
            wait = policy.wait(attempt, status, None if response is None else response.headers)
            elapsed = time.monotonic() - started
            if failures > policy.max_retries or time.monotonic() + wait > deadline:
                raise self._give_up(method, endpoint, response, failure, attempt, elapsed)
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
        call's ``budget`` (the ``retry_deadline``, plus :data:`BODY_GRACE`): a body trickling byte by byte
        never trips the socket's own timeout.
        """
        url = self.config.base_url + endpoint
        limit = min(self.timeout, budget + BODY_GRACE)
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                data=payload,
                headers=headers,
                timeout=(limit, limit),
                verify=self.config.ca_bundle or True,
                stream=True,
            )
            self._read_capped(method, endpoint, response, within=limit)
        except requests.exceptions.SSLError as err:
            raise CriteoConfigurationError(
                f"TLS verification of {self.config.base_url} failed ({type(err).__name__}). It cannot be "
                "turned off: if a proxy re-signs the traffic, set the extra ca_bundle of connection "
                f"{self.criteo_conn_id!r} to the path of its CA certificates."
            ) from None
        except _TRANSIENT as err:
            return None, err
        self._note_rate_limit(response)
        return response, None

    @staticmethod
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

    def _note_rate_limit(self, response: requests.Response) -> None:
        """Pace to what Criteo says: the app's limit, and no call before the reset when none remains."""
        limit = _header_int(response.headers.get("x-ratelimit-limit"))
        if limit is not None and limit >= 1 and limit != self.rate_limiter.calls:
            self.rate_limiter.limit_to(limit)
        if _header_int(response.headers.get("x-ratelimit-remaining")) == 0:
            reset = response.headers.get("x-ratelimit-reset")
            wait = ratelimit_reset_wait(reset)
            if wait is None:
                self.log.debug("No call remains in Criteo's window, and no readable reset (%r).", reset)
            else:
                self.rate_limiter.pause_for(wait)

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        allow_errors: bool = False,
        precondition: Callable[[], object] | None = None,
    ) -> dict[str, Any]:
        """Call an API endpoint and return its JSON envelope, raising on errors in a 2xx body."""
        endpoint = self._api_path(path)
        response = self._send(method, endpoint, params=params, body=body, precondition=precondition)
        envelope = self._json(response, method, endpoint)
        self._report_warnings(method, endpoint, response, envelope)
        errors = problems_of(envelope, "errors")
        if errors and not allow_errors:
            raise self._api_error(method, endpoint, response, errors[0])
        return envelope

    @staticmethod
    def _item_problems(envelope: dict[str, Any]) -> list[dict[str, Any]]:
        """The failures of items of a bulk call, in ``errors`` or ``warnings`` (Criteo documents both)."""
        return [
            problem
            for problem in problems_of(envelope, "errors", "warnings")
            if problem.get("type") != "deprecation" and problem.get("code") not in _DEPRECATION_CODES
        ]

    def _item_failure(self, method: str, path: str, envelope: dict[str, Any], what: str) -> CriteoApiError:
        """The error of a bulk call whose item was not applied, classed by the code of its problem."""
        problems = self._item_problems(envelope)
        codes = tuple(str(p["code"]) for p in problems if p.get("code"))
        first = next(
            (p for p in problems if p.get("code") == NAME_MUST_BE_UNIQUE), problems[0] if problems else {}
        )
        error_class: type[CriteoApiError] = {
            NAME_MUST_BE_UNIQUE: CriteoValidationError,
            SEGMENT_NOT_FOUND: CriteoNotFoundError,
        }.get(str(first.get("code")), CriteoResponseError)
        return error_class(
            method=method,
            endpoint=self._api_path(path),
            status=200,
            code=first.get("code"),
            trace_id=trace_id_of(first),
            detail=first.get("detail") or first.get("title") or what,
            codes=codes,
        )

    def _report_warnings(
        self, method: str, endpoint: str, response: requests.Response, envelope: dict[str, Any]
    ) -> None:
        """Log Criteo's warnings and version deprecation headers, each once per hook, not per call."""
        deprecation = {h: response.headers[h] for h in ("Deprecation", "Sunset") if h in response.headers}
        if deprecation:
            self._warn_once(
                ("deprecation", self.config.api_version),
                "Criteo API version %s is deprecated (%s): set a newer api_version on connection %r.",
                self.config.api_version,
                ", ".join(f"{name}: {value}" for name, value in deprecation.items()),
                self.criteo_conn_id,
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
        if key not in self._warned:
            self._warned.add(key)
            self.log.warning(message, *args)

    def _parse(self, method: str, path: str, response_body: dict[str, Any], parser: Callable[[Any], T]) -> T:
        """Apply a resource parser, turning a body that breaks the contract into a clear error."""
        try:
            return parser(response_body)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise CriteoResponseError(
                method=method,
                endpoint=self._api_path(path),
                status=200,
                detail=f"the response lacks what the API documents: {type(err).__name__}: {err}",
            ) from None

    # ---------------------------------------------------------------------------------- errors

    def _json(self, response: requests.Response, method: str, endpoint: str) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as err:
            raise self._malformed(method, endpoint, response, err) from None
        if not isinstance(body, dict):
            raise self._malformed(method, endpoint, response, TypeError("not a JSON object"))
        return body

    @staticmethod
    def _malformed(
        method: str, endpoint: str, response: requests.Response, err: Exception
    ) -> CriteoResponseError:
        content_type = response.headers.get("Content-Type", "no content type")
        return CriteoResponseError(
            method=method,
            endpoint=endpoint,
            status=response.status_code,
            detail=f"unexpected response body ({content_type}, {len(response.content)} bytes): "
            f"{type(err).__name__}: {err}",
        )

    def _api_error(
        self,
        method: str,
        endpoint: str,
        response: requests.Response,
        problem: dict[str, Any] | None = None,
        note: str | None = None,
    ) -> CriteoApiError:
        """Build the exception for a failed call from Criteo's error envelope or OAuth error."""
        status = response.status_code
        problems = [problem] if problem is not None else self._problems_of(response)
        first = problems[0] if problems else {}
        detail = "; ".join(filter(None, [first.get("detail") or first.get("title"), note]))
        error_class = _ERROR_CLASSES.get(status, CriteoServerError if status >= 500 else CriteoApiError)
        if status < 300:
            error_class = CriteoResponseError
        return error_class(
            method=method,
            endpoint=endpoint,
            status=status,
            code=first.get("code"),
            trace_id=trace_id_of(first),
            detail=detail or None,
            hint=self._hint(status, endpoint, first.get("code")),
            codes=tuple(str(p["code"]) for p in problems if p.get("code")),
        )

    @staticmethod
    def _problems_of(response: requests.Response) -> list[dict[str, Any]]:
        """The problems an error answer carries: Criteo's envelope, or the OAuth error."""
        try:
            body = response.json()
        except ValueError:
            content_type = response.headers.get("Content-Type", "no content type")
            return [{"detail": f"non-JSON response ({content_type}, {len(response.content)} bytes)"}]
        if not isinstance(body, dict):
            return []
        if "error" in body:  # OAuth2 token endpoint
            return [{"code": body.get("error"), "detail": body.get("error_description")}]
        return problems_of(body, "errors")

    def _hint(self, status: int, endpoint: str, code: str | None = None) -> str | None:
        conn = self.criteo_conn_id
        if status in (400, 401) and endpoint == "/oauth2/token":
            return f"Check the Client ID and Client Secret of the Airflow connection {conn!r}"
        if code == CONTACT_LIST_READ_ONLY:
            return (
                "This contact list is read-only at Criteo (Criteo or a partner maintains it): export to "
                "another audience_name"
            )
        if status == 403:
            return (
                "The Criteo app may not act for this advertiser: in Criteo's developer portal, ask the "
                "advertiser to grant the app consent with the Audience scope"
            )
        if status == 410:
            return f"Set a supported api_version in the extras of the Airflow connection {conn!r}"
        return None

    def _give_up(
        self,
        method: str,
        endpoint: str,
        response: requests.Response | None,
        failure: Exception | None,
        attempts: int,
        elapsed: float,
    ) -> CriteoApiError:
        summary = f"gave up after {attempts} attempts in {elapsed:.0f}s"
        if response is None:
            return CriteoServerError(
                method=method,
                endpoint=endpoint,
                status=None,
                detail=f"{type(failure).__name__}: {failure}; {summary}",
            )
        return self._api_error(method, endpoint, response, note=summary)

    # ---------------------------------------------------------------------------------- API

    def list_advertisers(self) -> list[Advertiser]:
        """Return the advertisers this app may act for (``GET /{version}/advertisers/me``)."""
        body = self._call("GET", "advertisers/me")
        return self._parse(
            "GET",
            "advertisers/me",
            body,
            lambda b: [Advertiser.from_resource(r) for r in data_list(b) if _has_id(r)],
        )

    def get_application(self) -> dict[str, Any]:
        """Return who this app is (``GET me``): a cheap check that the credentials work."""
        body = self._call("GET", "marketing-solutions/me")
        return self._parse(
            "GET", "marketing-solutions/me", body, lambda b: dict(attributes_of(b.get("data") or {}))
        )

    def search_audience_segments(
        self,
        *,
        advertiser_ids: Iterable[str] | None = None,
        segment_ids: Iterable[str] | None = None,
        segment_types: Iterable[str] | None = ("ContactList",),
        page_size: int = SEARCH_PAGE_SIZE,
    ) -> Iterator[AudienceSegment]:
        """Yield every audience segment matching the filters, following the pages.

        Paging follows ``meta.totalItems`` when Criteo sends it. Without it, a page shorter than the
        pages before it ends the search, and so does an empty one: a first page shorter than asked may
        be a cap Criteo puts on ``limit``, so it is not taken for the last. A page that only repeats
        segments already seen means paging does not advance, and fails.
        """
        attributes: dict[str, list[str]] = {}
        if advertiser_ids is not None:
            attributes["advertiserIds"] = [str(a) for a in advertiser_ids]
        if segment_ids is not None:
            attributes["audienceSegmentIds"] = [str(s) for s in segment_ids]
        if segment_types is not None:
            attributes["audienceSegmentTypes"] = list(segment_types)
        body = {"data": {"type": "AudienceSegment", "attributes": attributes}}
        path = "marketing-solutions/audience-segments/search"
        offset = longest = 0
        seen: set[str] = set()
        while True:
            page = self._call("POST", path, params={"limit": page_size, "offset": offset}, body=body)
            segments, items, total = self._parse("POST", path, page, _segment_page)
            fresh = [segment for segment in segments if segment.id not in seen]
            if segments and not fresh:
                raise CriteoResponseError(
                    method="POST",
                    endpoint=self._api_path(path),
                    status=200,
                    detail=f"the page at offset {offset} repeats segments of earlier pages: paging does not "
                    "advance, so segments after it cannot be read",
                )
            seen.update(segment.id for segment in fresh)
            yield from fresh
            offset += items
            if not items or (offset >= total if total is not None else items < longest):
                return
            longest = max(longest, items)

    def find_contact_list_segment(
        self, name: str, *, advertiser_id: str | None = None
    ) -> AudienceSegment | None:
        """Return the advertiser's contact-list segment with exactly this name, or None."""
        advertiser = self.resolve_advertiser(advertiser_id)
        for segment in self.search_audience_segments(advertiser_ids=[advertiser]):
            if segment.name == name:
                return _described(segment, advertiser_id=advertiser, type="ContactList")
        return None

    def create_contact_list_segment(
        self, name: str, *, advertiser_id: str | None = None, description: str = ""
    ) -> AudienceSegment:
        """Create an empty contact-list segment.

        A name the advertiser already uses raises ``CriteoValidationError`` with the code
        ``name-must-be-unique``, whether Criteo reports it in ``errors``, in ``warnings`` or as a 4xx.
        """
        advertiser = self.resolve_advertiser(advertiser_id)
        path = "marketing-solutions/audience-segments/create"
        item = {
            "type": "AudienceSegment",
            "attributes": {
                "advertiserId": advertiser,
                "name": name,
                "description": description,
                "contactList": {},
            },
        }
        body = self._call("POST", path, body={"data": [item]}, allow_errors=True)
        created = self._parse("POST", path, body, _segments)
        if not created:
            raise self._item_failure("POST", path, body, "no segment was created")
        # Create is documented as returning the new segments' ids: what the answer leaves out is ours.
        return _described(
            created[0], advertiser_id=advertiser, name=name, description=description, type="ContactList"
        )

    def get_or_create_contact_list_segment(
        self, name: str, *, advertiser_id: str | None = None, description: str = ""
    ) -> tuple[AudienceSegment, bool]:
        """Return the named contact-list segment, creating it when missing; also whether it was created.

        A concurrent creation of the same name (Criteo answers ``name-must-be-unique``), or an answer
        that does not show the created segment, is resolved by looking the segment up again.
        """
        existing = self.find_contact_list_segment(name, advertiser_id=advertiser_id)
        if existing is not None:
            return existing, False
        try:
            return self.create_contact_list_segment(
                name, advertiser_id=advertiser_id, description=description
            ), True
        except CriteoApiError as err:
            if NAME_MUST_BE_UNIQUE not in err.codes and not isinstance(err, CriteoResponseError):
                raise
            failure = err
        existing = self.find_contact_list_segment(name, advertiser_id=advertiser_id)
        if existing is not None:
            return existing, False
        if NAME_MUST_BE_UNIQUE not in failure.codes:
            raise failure
        raise CriteoResponseError(
            method="POST",
            endpoint=self._api_path("marketing-solutions/audience-segments/create"),
            status=failure.status,
            code=NAME_MUST_BE_UNIQUE,
            detail=f"Criteo says the name is taken but no contact-list segment named {name!r} is visible",
        )

    def update_audience_segment(
        self, segment_id: str, *, name: str | None = None, description: str | None = None
    ) -> AudienceSegment:
        """Rename a segment and/or change its description; return it as Criteo now has it.

        When the answer does not show the segment's new attributes (update is documented as returning
        ids), the segment is read again, and a change Criteo did not apply fails.
        """
        attributes: dict[str, Any] = {}
        if name is not None:
            attributes["name"] = name
        if description is not None:
            attributes["description"] = {"value": description}
        path = "marketing-solutions/audience-segments"
        body = self._call(
            "PATCH",
            path,
            body={"data": [{"id": str(segment_id), "type": "AudienceSegment", "attributes": attributes}]},
            allow_errors=True,
        )
        answered = [s for s in self._parse("PATCH", path, body, _segments) if s.id == str(segment_id)]
        if answered and _shows(answered[0], name, description):
            return answered[0]
        if not answered and self._item_problems(body):
            raise self._item_failure("PATCH", path, body, f"segment {segment_id} was not updated")
        current = next(
            iter(self.search_audience_segments(segment_ids=[str(segment_id)], segment_types=None)), None
        )
        if current is None or not _shows(current, name, description):
            raise CriteoResponseError(
                method="PATCH",
                endpoint=self._api_path(path),
                status=200,
                detail=f"Criteo did not confirm the update of segment {segment_id}, and reading it back does "
                "not show it",
            )
        return current

    def delete_audience_segments(self, segment_ids: Iterable[str]) -> list[str]:
        """Delete segments; return the ids Criteo confirmed.

        Segments Criteo reports as unknown (``segment-not-found``, in ``errors``, ``warnings`` or as a
        4xx naming every one) are the state a delete asks for: logged, not raised. Any other failure
        raises.
        """
        ids = [str(s) for s in segment_ids]
        items = [{"id": s, "type": "AudienceSegment", "attributes": {}} for s in ids]
        if not items:
            return []
        path = "marketing-solutions/audience-segments/delete"
        try:
            body = self._call("POST", path, body={"data": items}, allow_errors=True)
        except CriteoApiError as err:
            gone = err.status is not None and 400 <= err.status < 500
            if not (gone and len(err.codes) == len(items) and set(err.codes) == {SEGMENT_NOT_FOUND}):
                raise
            self.log.warning("Criteo has no such segments to delete (%s): already gone.", err.detail)
            return []
        problems = self._item_problems(body)
        for problem in problems:
            if problem.get("code") != SEGMENT_NOT_FOUND:
                raise self._item_failure("POST", path, body, "a segment was not deleted")
            self.log.warning("Criteo did not delete a segment: already gone (%s).", problem.get("detail"))
        confirmed = self._parse(
            "POST", path, body, lambda b: [str(r["id"]) for r in data_list(b) if _has_id(r)]
        )
        unconfirmed = [s for s in ids if s not in confirmed]
        if len(unconfirmed) > len(problems):  # neither deleted nor reported: look
            still = [s.id for s in self.search_audience_segments(segment_ids=unconfirmed, segment_types=None)]
            if still:
                raise CriteoResponseError(
                    method="POST",
                    endpoint=self._api_path(path),
                    status=200,
                    detail=f"Criteo did not confirm deleting segments {', '.join(still)}, which still exist",
                )
        return confirmed

    def amend_contact_list(
        self,
        segment_id: str,
        operation: str,
        identifiers: Iterable[str] | np.ndarray,
        *,
        identifier_type: str = "email",
        gum_caller_id: int | None = None,
        batch_size: int = MAX_IDENTIFIERS_PER_REQUEST,
        precondition: Callable[[], object] | None = None,
        on_request: Callable[[AmendmentResult, int], object] | None = None,
    ) -> AmendmentResult:
        """Add or remove identifiers in requests of at most ``batch_size``; return the summed counts.

        ``identifiers`` may be any iterable (a generator streams), or an array of raw 32-byte SHA-256
        digests (dtype ``S32``), sent as their lower-case hex forms: the request bodies are then encoded
        straight from the bytes. Amendments are idempotent, so a batch re-sent after a lost response
        changes nothing twice.

        :param precondition: called before every attempt, retries included; what it raises stops the
            amendment before that request (a sync checks that it still holds its lease).
        :param on_request: called after each request with Criteo's counts of it and how many
            identifiers it carried (a sync logs its progress and what Criteo refused).
        """
        if operation not in ("add", "remove"):
            raise ValueError(f"operation must be 'add' or 'remove', not {operation!r}")
        if identifier_type not in API_IDENTIFIER_TYPES:
            raise ValueError(
                f"identifier_type must be one of {sorted(API_IDENTIFIER_TYPES)}, not {identifier_type!r}"
            )
        if (identifier_type == "gum") != (gum_caller_id is not None):
            raise ValueError("gum_caller_id is required with identifier_type 'gum', and only with it")
        if not 1 <= batch_size <= MAX_IDENTIFIERS_PER_REQUEST:
            raise ValueError(f"batch_size must be between 1 and {MAX_IDENTIFIERS_PER_REQUEST}")
        path = f"marketing-solutions/audience-segments/{_numeric(segment_id)}/contact-list"
        attributes: dict[str, Any] = {"operation": operation, "identifierType": identifier_type}
        if gum_caller_id is not None:
            attributes["gumCallerId"] = gum_caller_id
        result = AmendmentResult(operation=operation)
        for body, count in _amendment_bodies(attributes, identifiers, batch_size):
            response = self._call("PATCH", path, body=body, precondition=precondition)
            this = self._parse("PATCH", path, response, AmendmentResult(operation=operation).plus_response)
            result = result.plus(this)
            if on_request is not None:
                on_request(this, count)
        return result

    def add_identifiers(self, segment_id: str, identifiers: Iterable[str], **kwargs: Any) -> AmendmentResult:
        """Add identifiers to a contact-list segment (see :meth:`amend_contact_list`)."""
        return self.amend_contact_list(segment_id, "add", identifiers, **kwargs)

    def remove_identifiers(
        self, segment_id: str, identifiers: Iterable[str], **kwargs: Any
    ) -> AmendmentResult:
        """Remove identifiers from a contact-list segment (see :meth:`amend_contact_list`)."""
        return self.amend_contact_list(segment_id, "remove", identifiers, **kwargs)

    def wipe_contact_list(self, segment_id: str, *, precondition: Callable[[], object] | None = None) -> None:
        """Remove every member of a contact-list segment.

        The answer must be Criteo's (``data.id``, which its schema requires): an empty 200 from a proxy
        is not a wipe, and taking it for one would leave every former member in the audience.

        :param precondition: called before every attempt (see :meth:`amend_contact_list`).
        """
        path = f"marketing-solutions/audience-segments/{_numeric(segment_id)}/contact-list"
        body = self._call("DELETE", path, precondition=precondition)
        self._parse("DELETE", path, body, lambda b: _required_id(b["data"]))

    def get_contact_list_statistics(self, segment_id: str) -> ContactListStatistics:
        """Return the number of identifiers, matches and the match rate of a contact-list segment.

        Each is None while Criteo has not computed it (matching is asynchronous).
        """
        path = f"marketing-solutions/audience-segments/{_numeric(segment_id)}/contact-list/statistics"
        body = self._call("GET", path)
        return self._parse("GET", path, body, lambda b: ContactListStatistics.from_resource(b.get("data")))

    # ---------------------------------------------------------------------------------- UI test

    def test_connection(self) -> tuple[bool, str]:
        """Check the credentials and that the configured advertiser is available (the UI's Test button).

        A person is waiting for the answer, so the check retries once at most, within seconds.
        """
        probe = type(self)(
            self.criteo_conn_id,
            timeout=min(self.timeout, TEST_CONNECTION_TIMEOUT),
            max_retries=1,
            retry_deadline=TEST_CONNECTION_TIMEOUT,
            retry_backoff=self.retry_policy.backoff,
            calls_per_minute=self.calls_per_minute,
        )
        try:
            advertisers = probe.list_advertisers()
        except (CriteoApiError, CriteoConfigurationError) as err:
            return False, str(err)
        available = ", ".join(a.id for a in advertisers) or "none"
        advertiser = self.config.advertiser_id
        if advertiser and advertiser not in {a.id for a in advertisers}:
            return False, (
                f"Credentials work, but advertiser {advertiser} is not among the advertisers this app may "
                f"use ({available}). Fix advertiser_id, or ask the advertiser to grant the app consent."
            )
        message = f"Connected to Criteo API {self.config.api_version}; advertisers available: {available}."
        if not self.config.data_transfer_consent:
            message += (
                " Data transfer consent is off: exports will refuse to send member data until it is on."
            )
        return True, message


def _amendment_bodies(
    attributes: dict[str, Any], identifiers: Iterable[str] | np.ndarray, batch_size: int
) -> Iterator[tuple[dict[str, Any] | bytes, int]]:
    """The bodies of an amendment's requests (dicts to encode, or JSON bytes for an array of digests),
    each with how many identifiers it carries."""
    if not isinstance(identifiers, np.ndarray) or identifiers.dtype != np.dtype(DIGEST_DTYPE):
        for batch in chunked(identifiers, batch_size):
            body = {
                "data": {"type": "ContactlistAmendment", "attributes": {**attributes, "identifiers": batch}}
            }
            yield body, len(batch)
        return
    # The envelope as json.dumps writes it, split where the identifier array goes (its last value).
    envelope = {"data": {"type": "ContactlistAmendment", "attributes": {**attributes, "identifiers": []}}}
    head, _, tail = json.dumps(envelope, separators=(",", ":")).rpartition("[]")
    for start in range(0, len(identifiers), batch_size):
        digests = identifiers[start : start + batch_size]
        yield b"".join((head.encode(), hex_json_array(digests), tail.encode())), len(digests)


def _has_id(resource: Any) -> bool:
    """Whether a resource has an id (nullable in Criteo's schema: one without is of no use)."""
    return isinstance(resource, dict) and resource.get("id") not in (None, "")


def _required_id(resource: Any) -> str:
    """The id a resource must have (``KeyError`` when it has none)."""
    if not _has_id(resource):
        raise KeyError("id")
    return str(resource["id"])


def _segments(body: dict[str, Any]) -> list[AudienceSegment]:
    """The segments of an envelope's ``data`` that have an id."""
    return [AudienceSegment.from_resource(r) for r in data_list(body) if _has_id(r)]


def _segment_page(body: dict[str, Any]) -> tuple[list[AudienceSegment], int, int | None]:
    """A search page: its segments, how many items it held, and ``meta.totalItems`` (None if not sent)."""
    meta = body.get("meta")
    total = meta.get("totalItems") if isinstance(meta, dict) else None
    return _segments(body), len(data_list(body)), None if total is None else int(total)


def _shows(segment: AudienceSegment, name: str | None, description: str | None) -> bool:
    """Whether a segment as Criteo answered it shows a requested name and description."""
    return (name is None or segment.name == name) and (
        description is None or segment.description == description
    )


def _described(segment: AudienceSegment, **known: Any) -> AudienceSegment:
    """``segment`` with the attributes Criteo's answer left out taken from what the caller knows."""
    return dataclasses.replace(
        segment, **{name: value for name, value in known.items() if getattr(segment, name) is None}
    )


def problems_of(envelope: dict[str, Any], *keys: str) -> list[dict[str, Any]]:
    """The problem objects under ``keys`` (``errors``, ``warnings``) of an envelope, null lists as empty."""
    found: list[dict[str, Any]] = []
    for key in keys:
        problems = envelope.get(key)
        if isinstance(problems, list):
            found.extend(p for p in problems if isinstance(p, dict))
    return found


def trace_id_of(problem: dict[str, Any]) -> str | None:
    """A problem's trace id: ``traceId``, or the deprecated ``traceIdentifier`` some answers carry."""
    trace = problem.get("traceId") or problem.get("traceIdentifier")
    return None if trace is None else str(trace)


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


def _numeric(segment_id: str) -> str:
    """Criteo's path ids are numeric: refuse anything else rather than build an odd URL."""
    text = str(segment_id)
    if not text.isdigit():
        raise ValueError(f"audience segment id must be numeric, not {text!r}")
    return text
