"""The emulator's in-memory, thread-safe world: apps, tokens, segments, members, limits, faults, journal."""

from __future__ import annotations

import json
import math
import os
import secrets
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sandbox.problems import ApiProblem

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"
DEFAULT_ADVERTISER_ID = "12345"
AUDIENCE_READ_SCOPE = "MarketingSolutions_Audience_Read"
AUDIENCE_MANAGE_SCOPE = "MarketingSolutions_Audience_Manage"
ALL_SCOPES = (AUDIENCE_READ_SCOPE, AUDIENCE_MANAGE_SCOPE)
JOURNAL_LIMIT = 10_000
RATE_WINDOW_SECONDS = 60.0
FIRST_SEGMENT_ID = 100_001
STATE_FILE_FORMAT = 1


def utc_now() -> str:
    """The current time as an ISO-8601 UTC timestamp."""
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class Settings:
    """Tunable behaviour of the emulator.

    :param schema_minimal: answer only what Criteo's OpenAPI guarantees: optional fields left out,
        nullable ones null, no search ``meta``, per-item failures in ``warnings``, ``traceIdentifier``
        for ``traceId`` (see :mod:`airflow_provider_criteo.sandbox.minimal`).
    :param pending_statistics: answer contact-list statistics as Criteo does before it has matched a
        list: every count null.
    """

    token_lifetime: float = 900.0
    latency: float = 0.0
    rate_limit_per_minute: int = 250
    record_bodies: bool = True
    schema_minimal: bool = False
    pending_statistics: bool = False


@dataclass(frozen=True)
class SandboxApp:
    """A Criteo API application (client-credentials app) and what it may do."""

    client_id: str
    client_secret: str
    advertiser_ids: tuple[str, ...]
    consent: bool
    scopes: frozenset[str]
    application_id: int

    def has_scope(self, scope: str) -> bool:
        """Whether the app holds ``scope``; Audience "Manage" includes "Read"."""
        return scope in self.scopes or (scope == AUDIENCE_READ_SCOPE and AUDIENCE_MANAGE_SCOPE in self.scopes)

    def may_use(self, advertiser_id: str) -> bool:
        """Whether the app may act for ``advertiser_id`` (listed and consent granted)."""
        return self.consent and advertiser_id in self.advertiser_ids


@dataclass
class Segment:
    """A contact-list audience segment and its members, per identifier type."""

    id: int
    advertiser_id: str
    name: str
    description: str | None
    created_at: str
    updated_at: str
    members: dict[str, set[str]] = field(default_factory=dict)
    #: A contact list Criteo or a partner maintains: it takes no amendment and no wipe.
    read_only: bool = False

    def resource(self) -> dict[str, Any]:
        """The segment as the API shows it (an ``AudienceSegmentEntityV1Resource``)."""
        return {
            "id": str(self.id),
            "type": "AudienceSegment",
            "attributes": {
                "advertiserId": self.advertiser_id,
                "name": self.name,
                "description": self.description,
                "type": "ContactList",
                "createdAt": self.created_at,
                "updatedAt": self.updated_at,
                "contactList": {"isReadOnly": self.read_only},
            },
        }

    def member_count(self) -> int:
        """How many identifiers the segment holds, all types together."""
        return sum(len(values) for values in self.members.values())


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


@dataclass
class Fault:
    """A failure to inject into the next ``count`` requests whose path contains ``path``."""

    path: str = ""
    method: str | None = None
    status: int | None = None
    count: int = 1
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: int | None = None
    delay: float = 0.0
    drop_connection: bool = False
    apply: bool = False
    #: A raw answer instead of Criteo's (a proxy's HTML page, malformed JSON...), with ``status``.
    body: str | None = None
    content_type: str = "application/json"

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request."""
        return self.path in path and (self.method is None or self.method == method)

    def executes_request(self) -> bool:
        """Whether the real request runs: always with ``apply``, for a pure delay and for headers only."""
        return self.apply or (self.status is None and not self.drop_connection)


@dataclass(frozen=True)
class RecordedRequest:
    """One call to the emulated API as the journal keeps it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    status: int | None
    body: Any
    response: Any
    trace_id: str
    client_id: str | None
    fault: bool
    timestamp: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass
class _Token:
    client_id: str
    expires_at: float


class SandboxState:
    """Everything the emulator knows, guarded by one re-entrant lock (``state.lock``)."""

    def __init__(
        self,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        advertiser_id: str = DEFAULT_ADVERTISER_ID,
        settings: Settings | None = None,
    ) -> None:
        """A world holding one app (the given credentials and advertiser); ``reset()`` returns to it."""
        self.lock = threading.RLock()
        self._default_app = (client_id, client_secret, advertiser_id)
        self._initial_settings = settings or Settings()
        self._settings = self._initial_settings
        self.apps: dict[str, SandboxApp] = {}
        self.advertisers: dict[str, str] = {}
        self.segment_store: dict[int, Segment] = {}
        self._tokens: dict[str, _Token] = {}
        self._windows: dict[str, deque[float]] = {}
        self._faults: list[Fault] = []
        self._journal: deque[RecordedRequest] = deque(maxlen=JOURNAL_LIMIT)
        self._next_segment_id = FIRST_SEGMENT_ID
        self._next_application_id = 1
        self.reset()

    # -- control surface -------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything: only the default app remains, with the initial settings."""
        with self.lock:
            self.apps.clear()
            self.advertisers.clear()
            self.segment_store.clear()
            self._tokens.clear()
            self._windows.clear()
            self._faults.clear()
            self._journal.clear()
            self._settings = self._initial_settings
            self._next_segment_id = FIRST_SEGMENT_ID
            self._next_application_id = 1
            client_id, client_secret, advertiser_id = self._default_app
            self.add_app(client_id, client_secret, advertiser_ids=(advertiser_id,))

    def add_app(
        self,
        client_id: str,
        client_secret: str,
        advertiser_ids: Iterable[str] = (DEFAULT_ADVERTISER_ID,),
        consent: bool = True,
        scopes: Iterable[str] = ALL_SCOPES,
    ) -> SandboxApp:
        """Register (or replace) an application allowed to act for ``advertiser_ids``."""
        if isinstance(advertiser_ids, str) or isinstance(scopes, str):
            raise TypeError("advertiser_ids and scopes must be lists of strings, not a string")
        ids = tuple(str(advertiser_id) for advertiser_id in advertiser_ids)
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret must not be empty")
        with self.lock:
            existing = self.apps.get(client_id)
            if existing is None:
                application_id = self._next_application_id
                self._next_application_id += 1
            else:
                application_id = existing.application_id
            app = SandboxApp(client_id, client_secret, ids, bool(consent), frozenset(scopes), application_id)
            self.apps[client_id] = app
            for advertiser_id in ids:
                self.advertisers.setdefault(advertiser_id, f"Sandbox advertiser {advertiser_id}")
            return app

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
        changes: dict[str, Any] = {}
        if token_lifetime is not None:
            changes["token_lifetime"] = _positive_number("token_lifetime", token_lifetime)
        if latency is not None:
            changes["latency"] = _non_negative_number("latency", latency)
        if rate_limit_per_minute is not None:
            if isinstance(rate_limit_per_minute, bool) or not isinstance(rate_limit_per_minute, int):
                raise TypeError("rate_limit_per_minute must be an integer")
            if rate_limit_per_minute < 1:
                raise ValueError("rate_limit_per_minute must be at least 1")
            changes["rate_limit_per_minute"] = rate_limit_per_minute
        for name, flag in (
            ("record_bodies", record_bodies),
            ("schema_minimal", schema_minimal),
            ("pending_statistics", pending_statistics),
        ):
            if flag is not None:
                if not isinstance(flag, bool):
                    raise TypeError(f"{name} must be a boolean")
                changes[name] = flag
        with self.lock:
            self._settings = replace(self._settings, **changes)
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
        if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
            raise TypeError("status must be an integer")
        if body is not None and (status is None or not 200 <= status <= 599):
            raise ValueError("a raw body needs a status between 200 and 599")
        if body is None and status is not None and not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error status (400-599)")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        if retry_after is not None and (isinstance(retry_after, bool) or not isinstance(retry_after, int)):
            raise TypeError("retry_after must be an integer number of seconds")
        delay = _non_negative_number("delay", delay)
        if status is None and not drop_connection and delay == 0 and not headers:
            raise ValueError("a fault needs a status, a delay, headers or drop_connection")
        if apply and status is None and not drop_connection:
            raise ValueError("apply=True needs a status or drop_connection to fail the executed request")
        fault = Fault(
            path=path,
            method=method.upper() if method else None,
            status=status,
            count=count,
            headers={str(name): str(value) for name, value in (headers or {}).items()},
            retry_after=retry_after,
            delay=delay,
            drop_connection=bool(drop_connection),
            apply=bool(apply),
            body=None if body is None else str(body),
            content_type=str(content_type),
        )
        with self.lock:
            self._faults.append(fault)
        return fault

    def set_read_only(self, segment_id: int | str, read_only: bool = True) -> None:
        """Make a segment's contact list read-only (as one Criteo or a partner maintains), or writable."""
        if not isinstance(read_only, bool):
            raise TypeError("read_only must be a boolean")
        with self.lock:
            segment = self.segment_store.get(_segment_key(segment_id))
            if segment is None:
                raise KeyError(f"no audience segment {segment_id}")
            segment.read_only = read_only

    def expire_tokens(self) -> None:
        """Make every issued token expired."""
        with self.lock:
            for token in self._tokens.values():
                token.expires_at = 0.0

    def segments(self, advertiser_id: str | None = None) -> list[dict[str, Any]]:
        """Segment resources as the API shows them, by id, optionally for one advertiser."""
        with self.lock:
            return [
                segment.resource()
                for segment_id, segment in sorted(self.segment_store.items())
                if advertiser_id is None or segment.advertiser_id == str(advertiser_id)
            ]

    def members(self, segment_id: int | str, identifier_type: str | None = None) -> set[str]:
        """The identifiers a segment holds (all types, or one); ``KeyError`` if it does not exist."""
        with self.lock:
            segment = self.segment_store.get(_segment_key(segment_id))
            if segment is None:
                raise KeyError(f"no audience segment {segment_id}")
            if identifier_type is not None:
                return set(segment.members.get(identifier_type, ()))
            return set().union(*segment.members.values())

    @property
    def requests(self) -> list[RecordedRequest]:
        """The journal of API calls, oldest first (the last 10,000)."""
        with self.lock:
            return list(self._journal)

    def clear_requests(self) -> None:
        """Empty the journal."""
        with self.lock:
            self._journal.clear()

    # -- persistence -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Apps, advertisers and segments with their members, JSON-ready (tokens are not kept)."""
        with self.lock:
            return {
                "format": STATE_FILE_FORMAT,
                "next_segment_id": self._next_segment_id,
                "next_application_id": self._next_application_id,
                "advertisers": dict(self.advertisers),
                "apps": [
                    {**asdict(app), "advertiser_ids": list(app.advertiser_ids), "scopes": sorted(app.scopes)}
                    for app in self.apps.values()
                ],
                "segments": [
                    {
                        **{key: value for key, value in asdict(segment).items() if key != "members"},
                        "members": {kind: sorted(values) for kind, values in segment.members.items()},
                    }
                    for segment in self.segment_store.values()
                ],
            }

    def load_dict(self, data: Mapping[str, Any]) -> None:
        """Replace apps, advertisers and segments with a :meth:`to_dict` snapshot."""
        if data.get("format") != STATE_FILE_FORMAT:
            raise ValueError(f"unsupported sandbox state format {data.get('format')!r}")
        with self.lock:
            self.apps = {
                app["client_id"]: SandboxApp(
                    app["client_id"],
                    app["client_secret"],
                    tuple(app["advertiser_ids"]),
                    app["consent"],
                    frozenset(app["scopes"]),
                    app["application_id"],
                )
                for app in data["apps"]
            }
            self.advertisers = dict(data["advertisers"])
            self.segment_store = {
                segment["id"]: Segment(
                    **{key: value for key, value in segment.items() if key != "members"},
                    members={kind: set(values) for kind, values in segment["members"].items()},
                )
                for segment in data["segments"]
            }
            self._next_segment_id = data["next_segment_id"]
            self._next_application_id = data["next_application_id"]
            self._tokens.clear()
            self._windows.clear()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` to ``path`` as JSON, atomically."""
        temporary = f"{os.fspath(path)}.tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(self.to_dict(), handle)
        os.replace(temporary, path)

    def load(self, path: str | os.PathLike[str]) -> None:
        """Load a state file written by :meth:`save`."""
        with open(path, encoding="utf-8") as handle:
            self.load_dict(json.load(handle))

    # -- used by the API handlers ----------------------------------------------------------------

    def issue_token(self, client_id: str, client_secret: str) -> tuple[str, float] | None:
        """A new access token and its lifetime for valid credentials, else ``None``."""
        with self.lock:
            app = self.apps.get(client_id)
            if app is None or not secrets.compare_digest(app.client_secret, client_secret):
                return None
            token = secrets.token_urlsafe(32)
            lifetime = self._settings.token_lifetime
            self._tokens[token] = _Token(client_id, time.time() + lifetime)
            return token, lifetime

    def client_of(self, token: str) -> str | None:
        """The client id a token was issued to, expired or not."""
        with self.lock:
            entry = self._tokens.get(token)
            return entry.client_id if entry else None

    def authenticate(self, authorization: str | None) -> SandboxApp:
        """The app behind an ``Authorization`` header, or the 401 Criteo answers."""
        if not authorization:
            raise _unauthorized("authorization-token-missing", "No bearer token in the Authorization header.")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise _unauthorized("authorization-token-invalid", "The Authorization header is malformed.")
        with self.lock:
            entry = self._tokens.get(token)
            app = self.apps.get(entry.client_id) if entry else None
            if entry is None or app is None:
                raise _unauthorized("authorization-token-invalid", "The bearer token is not valid.")
            if entry.expires_at <= time.time():
                raise _unauthorized("authorization-token-expired", "The bearer token has expired.")
            return app

    def consume_rate(self, client_id: str) -> RateStatus:
        """Count one call for an app against its rolling one-minute window (a refused call is not counted)."""
        with self.lock:
            now = time.time()
            window = self._windows.setdefault(client_id, deque())
            while window and window[0] <= now - RATE_WINDOW_SECONDS:
                window.popleft()
            limit = self._settings.rate_limit_per_minute
            allowed = len(window) < limit
            if allowed:
                window.append(now)
            return RateStatus(limit, max(limit - len(window), 0), self._reset_time(window, now), allowed)

    def peek_rate(self, client_id: str | None) -> RateStatus:
        """The rate-limit status of an app (or of an unknown caller) without counting a call."""
        with self.lock:
            now = time.time()
            window = [t for t in self._windows.get(client_id or "", ()) if t > now - RATE_WINDOW_SECONDS]
            limit = self._settings.rate_limit_per_minute
            return RateStatus(limit, max(limit - len(window), 0), self._reset_time(window, now), True)

    @staticmethod
    def _reset_time(window: Iterable[float], now: float) -> int:
        oldest = next(iter(window), None)
        return math.ceil(oldest + RATE_WINDOW_SECONDS if oldest is not None else now)

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The first queued fault matching a request, consuming one of its uses."""
        with self.lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
            return None

    def record(self, entry: RecordedRequest) -> None:
        """Append a call to the journal."""
        with self.lock:
            self._journal.append(entry)

    def new_segment(self, advertiser_id: str, name: str, description: str | None) -> Segment:
        """Create a contact-list segment (the caller holds the lock and checked the name)."""
        with self.lock:
            now = utc_now()
            segment = Segment(self._next_segment_id, advertiser_id, name, description, now, now)
            self.segment_store[segment.id] = segment
            self._next_segment_id += 1
            return segment

    def segment_named(self, advertiser_id: str, name: str) -> Segment | None:
        """The advertiser's segment called ``name``, if any."""
        with self.lock:
            return next(
                (
                    segment
                    for segment in self.segment_store.values()
                    if segment.advertiser_id == advertiser_id and segment.name == name
                ),
                None,
            )


def _unauthorized(code: str, detail: str) -> ApiProblem:
    return ApiProblem(401, "authentication", code, "Unauthorized", detail)


def _segment_key(segment_id: int | str) -> int:
    try:
        return int(segment_id)
    except ValueError:
        raise KeyError(f"no audience segment {segment_id}") from None


def _positive_number(name: str, value: float) -> float:
    value = _non_negative_number(name, value)
    if value == 0:
        raise ValueError(f"{name} must be positive")
    return value


def _non_negative_number(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number")
    if value < 0 or math.isnan(value) or math.isinf(value):
        raise ValueError(f"{name} must be a finite number >= 0")
    return float(value)
