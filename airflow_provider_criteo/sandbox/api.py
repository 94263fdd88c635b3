"""Criteo's endpoints as the emulator serves them: routing, authentication, rate limit, handlers."""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sandbox.minimal import minimal_answer, minimal_error
from airflow_provider_criteo.sandbox.problems import (
    ApiProblem,
    advertiser_not_allowed,
    problem,
    segment_not_found,
    status_problem,
    validation_error,
)
from airflow_provider_criteo.sandbox.state import AUDIENCE_MANAGE_SCOPE, AUDIENCE_READ_SCOPE, utc_now
from airflow_provider_criteo.sandbox.validation import (
    SAMPLE_INVALID_LIMIT,
    parse_amendment,
    parse_create,
    parse_delete,
    parse_search,
    parse_update,
    path_segment_id,
    query_int,
    split_identifiers,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_criteo.sandbox.state import SandboxApp, SandboxState, Segment

TOKEN_PATH = "/oauth2/token"
SERVED_VERSIONS = ("2026-01", "2026-07", "2027-01")
#: Served versions on their way out (emulator choice, after criteo-api.md: 2026-01 is supported until
#: February 2027): answers carry RFC 9745 ``Deprecation``, RFC 8594 ``Sunset`` and a warning.
DEPRECATED_VERSIONS = {"2026-01": (1785542400, "Mon, 01 Feb 2027 00:00:00 GMT")}
_VERSION = re.compile(r"[0-9]{4}-(?:0[1-9]|1[0-2])")
_JSON_MEDIA_TYPE = "application/json"
_FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
_UNPARSED = object()


@dataclass
class Call:
    """One incoming request, as the handlers see it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    trace_id: str
    _parsed: Any = field(default=_UNPARSED, repr=False)

    @property
    def media_type(self) -> str:
        """The request's content type without parameters, lower-cased (empty when absent)."""
        return self.headers.get("content-type", "").partition(";")[0].strip().lower()

    def json(self) -> Any:
        """The JSON body, parsed once; 415 for another content type, 400 if absent or malformed."""
        if self._parsed is _UNPARSED:
            media_type = self.media_type
            if media_type != _JSON_MEDIA_TYPE:
                raise ApiProblem(
                    415,
                    "validation",
                    "unsupported-media-type",
                    "Unsupported media type",
                    f"Send the body as {_JSON_MEDIA_TYPE}, not {media_type or 'no content type'}.",
                )
            if not self.body.strip():
                raise validation_error("/", "A request body is required.", code="required-field")
            try:
                self._parsed = json.loads(self.body)
            except ValueError:
                raise validation_error("/", "The request body is not valid JSON.") from None
        return self._parsed

    def journal_body(self) -> Any:
        """The body for the journal: parsed JSON when it is, else its text, ``None`` when empty."""
        if self._parsed is not _UNPARSED:
            return self._parsed
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return self.body.decode("utf-8", errors="replace")


@dataclass
class Outcome:
    """What to answer: status, JSON body, headers, and the caller's client id when known."""

    status: int
    body: Any
    headers: dict[str, str]
    client_id: str | None = None


def problem_outcome(
    failure: ApiProblem, call: Call, headers: dict[str, str], *, minimal: bool = False
) -> Outcome:
    """The envelope answer for a failed API call (schema-minimal when asked)."""
    envelope = failure.to_envelope(call.trace_id, call.path)
    return Outcome(
        failure.status, minimal_error(envelope) if minimal else envelope, {**headers, **failure.headers}
    )


# -- OAuth -----------------------------------------------------------------------------------------


def handle_token(state: SandboxState, call: Call) -> Outcome:
    """``POST /oauth2/token`` with the client-credentials grant."""
    if call.method != "POST":
        return _oauth_error(405, "invalid_request", "Use POST.", {"allow": "POST"})
    if call.media_type != _FORM_MEDIA_TYPE:
        return _oauth_error(400, "invalid_request", f"Send the form as {_FORM_MEDIA_TYPE}.")
    try:
        form = urllib.parse.parse_qs(call.body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return _oauth_error(400, "invalid_request", "The form is not valid UTF-8.")
    repeated = sorted(name for name, values in form.items() if len(values) > 1)
    if repeated:
        return _oauth_error(400, "invalid_request", f"Repeated parameters: {', '.join(repeated)}.")
    fields = {name: values[0] for name, values in form.items()}
    missing = [name for name in ("grant_type", "client_id", "client_secret") if not fields.get(name)]
    if missing:
        return _oauth_error(400, "invalid_request", f"Missing parameters: {', '.join(missing)}.")
    if fields["grant_type"] != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type", "Only client_credentials is supported.")
    issued = state.issue_token(fields["client_id"], fields["client_secret"])
    if issued is None:
        return _oauth_error(401, "invalid_client", "Unknown client id or wrong client secret.")
    token, lifetime = issued
    body = {
        "access_token": token,
        "token_type": "Bearer",
        "refresh_token": None,
        "expires_in": round(lifetime),
    }
    return Outcome(200, body, {"cache-control": "no-store", "pragma": "no-cache"}, fields["client_id"])


def _oauth_error(status: int, error: str, description: str, headers: dict[str, str] | None = None) -> Outcome:
    return Outcome(status, {"error": error, "error_description": description}, headers or {})


def oauth_fault_body(status: int, detail: str) -> dict[str, Any] | None:
    """The OAuth-shaped body of an injected 400/401 on the token endpoint (``None``: use the envelope)."""
    errors = {400: "invalid_request", 401: "invalid_client"}
    return {"error": errors[status], "error_description": detail} if status in errors else None


# -- the versioned API -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """An emulated endpoint: method, path pattern after the version, handler."""

    method: str
    pattern: re.Pattern[str]
    handler: Callable[[SandboxState, SandboxApp, Call, dict[str, int]], dict[str, Any]]


def handle_api(state: SandboxState, call: Call) -> Outcome:
    """Serve a call to ``/{version}/...``: version, route, token, rate limit, then the endpoint."""
    rate_headers = state.peek_rate(None).headers()
    minimal = state.settings.schema_minimal
    try:
        route, raw_params = _resolve(call.method, call.path)
        app = state.authenticate(call.headers.get("authorization"))
        rate = state.consume_rate(app.client_id)
        rate_headers = rate.headers()
        if not rate.allowed:
            detail = f"Rate limit of {rate.limit} calls per minute exceeded for this application."
            outcome = problem_outcome(status_problem(429, detail), call, rate_headers, minimal=minimal)
            outcome.client_id = app.client_id
            return outcome
        params = {name: path_segment_id(value) for name, value in raw_params.items()}
        body = route.handler(state, app, call, params)
        if minimal:
            body = minimal_answer(route.handler.__name__, body)
        version = call.path.lstrip("/").partition("/")[0]
        if version in DEPRECATED_VERSIONS:
            rate_headers.update(_deprecate(version, body, call))
        return Outcome(200, body, rate_headers, app.client_id)
    except ApiProblem as failure:
        outcome = problem_outcome(failure, call, rate_headers, minimal=minimal)
        token = call.headers.get("authorization", "").partition(" ")[2].strip()
        outcome.client_id = state.client_of(token) if token else None
        return outcome


def _deprecate(version: str, body: dict[str, Any], call: Call) -> dict[str, str]:
    """Add the deprecation warning to an answer of a retiring version; return its headers."""
    deprecated_at, sunset = DEPRECATED_VERSIONS[version]
    body.setdefault("warnings", []).append(
        {
            "traceId": call.trace_id,
            "type": "deprecation",
            "code": "endpoint-deprecated",
            "instance": call.path,
            "title": "API version deprecated",
            "detail": f"API version {version} is deprecated and will be removed on {sunset}.",
        }
    )
    return {"deprecation": f"@{deprecated_at}", "sunset": sunset}


def _resolve(method: str, path: str) -> tuple[Route, dict[str, str]]:
    version, _, rest = path.lstrip("/").partition("/")
    if not _VERSION.fullmatch(version):
        raise _not_found(path)
    if version not in SERVED_VERSIONS:
        raise ApiProblem(
            410,
            "deprecation",
            "api-version-decommissioned",
            "API version gone",
            f"API version {version} is not served; use one of {', '.join(SERVED_VERSIONS)}.",
        )
    allowed = []
    for route in ROUTES:
        match = route.pattern.fullmatch(rest)
        if match is None:
            continue
        if route.method == method:
            return route, match.groupdict()
        allowed.append(route.method)
    if allowed:
        raise ApiProblem(
            405,
            "validation",
            "method-not-allowed",
            "Method not allowed",
            f"{method} is not allowed here.",
            headers={"allow": ", ".join(allowed)},
        )
    raise _not_found(path)


def _not_found(path: str) -> ApiProblem:
    return ApiProblem(404, "validation", "not-found", "Not found", f"No endpoint at {path}.")


def _require_scope(app: SandboxApp, scope: str) -> None:
    if not app.consent:
        raise ApiProblem(
            403,
            "authorization",
            "consent-missing",
            "Consent missing",
            "The advertiser has not granted this application access to its data.",
        )
    if not app.has_scope(scope):
        raise ApiProblem(
            403,
            "authorization",
            "insufficient-scope",
            "Insufficient scope",
            f"This application lacks the {scope} scope.",
        )


def _owned_segment(state: SandboxState, app: SandboxApp, segment_id: int) -> Segment:
    segment = state.segment_store.get(segment_id)
    if segment is None:
        raise segment_not_found(segment_id)
    if not app.may_use(segment.advertiser_id):
        raise advertiser_not_allowed(segment.advertiser_id)
    return segment


def _writable_contact_list(state: SandboxState, app: SandboxApp, segment_id: int) -> Segment:
    """A segment whose members may change: a read-only contact list is refused (emulator choice: 403)."""
    segment = _owned_segment(state, app, segment_id)
    if segment.read_only:
        raise ApiProblem(
            403,
            "authorization",
            "contact-list-read-only",
            "Contact list is read-only",
            f"The contact list of audience segment {segment_id} is read-only: it cannot be amended or wiped.",
        )
    return segment


def _envelope(data: Any, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"data": data, "errors": errors or [], "warnings": []}


def advertisers_me(
    state: SandboxState, app: SandboxApp, call: Call, params: dict[str, int]
) -> dict[str, Any]:
    """``GET advertisers/me``: the advertisers that granted this application consent."""
    advertiser_ids = app.advertiser_ids if app.consent else ()
    return _envelope(
        [
            {
                "type": "advertiser",
                "id": advertiser_id,
                "attributes": {"advertiserName": state.advertisers[advertiser_id]},
            }
            for advertiser_id in advertiser_ids
        ]
    )


def application_me(
    state: SandboxState, app: SandboxApp, call: Call, params: dict[str, int]
) -> dict[str, Any]:
    """``GET marketing-solutions/me``: the calling application."""
    return _envelope(
        {
            "type": "Application",
            "attributes": {
                "applicationId": app.application_id,
                "name": app.client_id,
                "description": "Criteo sandbox application",
                "organizationId": 1,
                "criteoService": "MarketingSolutions",
            },
        }
    )


def search_segments(
    state: SandboxState, app: SandboxApp, call: Call, params: dict[str, int]
) -> dict[str, Any]:
    """``POST audience-segments/search``: AND-ed filters, paged by ``limit`` and ``offset``."""
    _require_scope(app, AUDIENCE_READ_SCOPE)
    limit = query_int(call.query, "limit", 50, 0, 100)
    offset = query_int(call.query, "offset", 0, 0, 2**31 - 1)
    filters = parse_search(call.json())
    for advertiser_id in filters.advertiser_ids or ():
        if not app.may_use(advertiser_id):
            raise advertiser_not_allowed(advertiser_id)
    with state.lock:
        found = [
            segment.resource()
            for _, segment in sorted(state.segment_store.items())
            if app.may_use(segment.advertiser_id)
            and (filters.advertiser_ids is None or segment.advertiser_id in filters.advertiser_ids)
            and (filters.segment_types is None or "ContactList" in filters.segment_types)
            and (filters.segment_ids is None or str(segment.id) in filters.segment_ids)
        ]
    body = _envelope(found[offset : offset + limit])
    body["meta"] = {"limit": limit, "offset": offset, "totalItems": len(found)}
    return body


def create_segments(
    state: SandboxState, app: SandboxApp, call: Call, params: dict[str, int]
) -> dict[str, Any]:
    """``POST audience-segments/create``: contact-list segments; a taken name is reported, not created."""
    _require_scope(app, AUDIENCE_MANAGE_SCOPE)
    wanted = parse_create(call.json())
    for new in wanted:
        if not app.may_use(new.advertiser_id):
            raise advertiser_not_allowed(new.advertiser_id)
    created, errors = [], []
    with state.lock:
        for index, new in enumerate(wanted):
            if state.segment_named(new.advertiser_id, new.name) is not None:
                errors.append(_name_taken(call, index, new.advertiser_id, new.name))
                continue
            created.append(state.new_segment(new.advertiser_id, new.name, new.description).resource())
    return _envelope(created, errors)


def update_segments(
    state: SandboxState, app: SandboxApp, call: Call, params: dict[str, int]
) -> dict[str, Any]:
    """``PATCH audience-segments``: rename / describe; unknown ids and taken names are reported."""
    _require_scope(app, AUDIENCE_MANAGE_SCOPE)
    updates = parse_update(call.json())
    updated, errors = [], []
    with state.lock:
        _check_advertisers(state, app, [update.segment_id for update in updates])
        for index, update in enumerate(updates):
            segment = state.segment_store.get(update.segment_id)
            if segment is None:
                errors.append(_missing_segment(call, index, update.segment_id))
                continue
            if update.name is not None and update.name != segment.name:
                if state.segment_named(segment.advertiser_id, update.name) is not None:
                    errors.append(_name_taken(call, index, segment.advertiser_id, update.name))
                    continue
                segment.name = update.name
            if update.description_set:
                segment.description = update.description
            segment.updated_at = utc_now()
            updated.append(segment.resource())
    return _envelope(updated, errors)


def delete_segments(
    state: SandboxState, app: SandboxApp, call: Call, params: dict[str, int]
) -> dict[str, Any]:
    """``POST audience-segments/delete``: unknown ids are reported, the others deleted."""
    _require_scope(app, AUDIENCE_MANAGE_SCOPE)
    segment_ids = parse_delete(call.json())
    deleted, errors = [], []
    with state.lock:
        _check_advertisers(state, app, segment_ids)
        for index, wanted_id in enumerate(segment_ids):
            if state.segment_store.pop(wanted_id, None) is None:
                errors.append(_missing_segment(call, index, wanted_id))
            else:
                deleted.append({"id": str(wanted_id), "type": "AudienceSegment"})
    return _envelope(deleted, errors)


def _check_advertisers(state: SandboxState, app: SandboxApp, segment_ids: list[int]) -> None:
    for wanted_id in segment_ids:
        segment = state.segment_store.get(wanted_id)
        if segment is not None and not app.may_use(segment.advertiser_id):
            raise advertiser_not_allowed(segment.advertiser_id)


def _name_taken(call: Call, index: int, advertiser_id: str, name: str) -> dict[str, Any]:
    return problem(
        call.trace_id,
        call.path,
        "validation",
        "name-must-be-unique",
        "Segment name already used",
        f"Advertiser {advertiser_id} already has a segment named {name!r}.",
        {"pointer": f"/data/{index}/attributes/name"},
    )


def _missing_segment(call: Call, index: int, segment_id: int) -> dict[str, Any]:
    failure = segment_not_found(segment_id)
    return problem(
        call.trace_id,
        call.path,
        failure.type,
        failure.code,
        failure.title,
        failure.detail,
        {"pointer": f"/data/{index}/id"},
    )


def amend_contact_list(
    state: SandboxState, app: SandboxApp, call: Call, params: dict[str, int]
) -> dict[str, Any]:
    """``PATCH audience-segments/{id}/contact-list``: add or remove identifiers, idempotently."""
    _require_scope(app, AUDIENCE_MANAGE_SCOPE)
    amendment = parse_amendment(call.json())
    valid, invalid = split_identifiers(amendment.identifier_type, amendment.identifiers)
    with state.lock:
        segment = _writable_contact_list(state, app, params["segment_id"])
        members = segment.members.setdefault(amendment.identifier_type, set())
        if amendment.operation == "add":
            members.update(valid)
        else:
            members.difference_update(valid)
    return _envelope(
        {
            "type": "ContactlistAmendment",
            "attributes": {
                "contactListId": segment.id,
                "operation": amendment.operation,
                "requestDate": utc_now(),
                "identifierType": amendment.identifier_type,
                "nbValidIdentifiers": len(valid),
                "nbInvalidIdentifiers": len(invalid),
                "sampleInvalidIdentifiers": invalid[:SAMPLE_INVALID_LIMIT],
            },
        }
    )


def wipe_contact_list(
    state: SandboxState, app: SandboxApp, call: Call, params: dict[str, int]
) -> dict[str, Any]:
    """``DELETE audience-segments/{id}/contact-list``: remove every member."""
    _require_scope(app, AUDIENCE_MANAGE_SCOPE)
    with state.lock:
        segment = _writable_contact_list(state, app, params["segment_id"])
        segment.members.clear()
    return _envelope({"id": str(segment.id), "type": "AudienceContactlist"})


def contact_list_statistics(
    state: SandboxState, app: SandboxApp, call: Call, params: dict[str, int]
) -> dict[str, Any]:
    """``GET audience-segments/{id}/contact-list/statistics``: every valid identifier counts as matched.

    With ``pending_statistics``, every count is null, as Criteo answers before it has matched a list.
    """
    _require_scope(app, AUDIENCE_READ_SCOPE)
    with state.lock:
        segment = _owned_segment(state, app, params["segment_id"])
        count = segment.member_count()
    attributes: dict[str, Any] = {
        "numberOfIdentifiers": count,
        "numberOfMatches": count,
        "matchRate": 1.0 if count else 0.0,
    }
    if state.settings.pending_statistics:
        attributes = dict.fromkeys(attributes)
    return _envelope({"id": str(segment.id), "type": "ContactListStatistics", "attributes": attributes})


_SEGMENT = r"marketing-solutions/audience-segments/(?P<segment_id>[^/]+)/contact-list"
ROUTES = (
    Route("GET", re.compile(r"advertisers/me"), advertisers_me),
    Route("GET", re.compile(r"marketing-solutions/me"), application_me),
    Route("POST", re.compile(r"marketing-solutions/audience-segments/search"), search_segments),
    Route("POST", re.compile(r"marketing-solutions/audience-segments/create"), create_segments),
    Route("PATCH", re.compile(r"marketing-solutions/audience-segments"), update_segments),
    Route("POST", re.compile(r"marketing-solutions/audience-segments/delete"), delete_segments),
    Route("PATCH", re.compile(_SEGMENT), amend_contact_list),
    Route("DELETE", re.compile(_SEGMENT), wipe_contact_list),
    Route("GET", re.compile(_SEGMENT + "/statistics"), contact_list_statistics),
)
