"""Criteo's endpoints as the emulator answers them: parse the call, ask the model, format the answer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sandbox.auth import (
    AUDIENCE_MANAGE_SCOPE,
    AUDIENCE_READ_SCOPE,
    OAuthError,
    require_scope,
    token_form,
)
from airflow_provider_criteo.sandbox.calls import Outcome
from airflow_provider_criteo.sandbox.models import utc_now
from airflow_provider_criteo.sandbox.validation import (
    SAMPLE_INVALID_LIMIT,
    parse_amendment,
    parse_create,
    parse_delete,
    parse_search,
    parse_update,
    query_int,
    split_identifiers,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_criteo.sandbox.calls import Call
    from airflow_provider_criteo.sandbox.models import SandboxApp, SandboxState
    from airflow_provider_criteo.sandbox.models.segments import BulkResult

_NO_CACHE = {"cache-control": "no-store", "pragma": "no-cache"}


# -- OAuth -----------------------------------------------------------------------------------------


def handle_token(state: SandboxState, call: Call) -> Outcome:
    """``POST /oauth2/token``: client credentials, or an authorization code or refresh token of an
    authorization-code app (which gets a new refresh token each time)."""
    try:
        fields = token_form(call)
        token, lifetime, refresh_token = state.grant(fields)
    except OAuthError as refusal:
        return refusal.outcome()
    body = {
        "access_token": token,
        "token_type": "Bearer",
        "refresh_token": refresh_token,
        "expires_in": round(lifetime),
    }
    return Outcome(200, body, dict(_NO_CACHE), fields["client_id"])


# -- the versioned API: each handler answers the full body; dispatch makes it schema-minimal -------


def _envelope(data: Any, errors: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Criteo's ``{data, errors, warnings}`` envelope."""
    return {"data": data, "errors": errors or [], "warnings": []}


def advertisers_me(
    state: SandboxState, app: SandboxApp, call: Call, params: dict[str, int]
) -> dict[str, Any]:
    """``GET advertisers/me``: the advertisers that granted this application consent."""
    return _envelope(
        [
            {"type": "advertiser", "id": advertiser_id, "attributes": {"advertiserName": name}}
            for advertiser_id, name in state.advertiser_names(app)
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
    require_scope(app, AUDIENCE_READ_SCOPE)
    limit = query_int(call.query, "limit", 50, 0, 100)
    offset = query_int(call.query, "offset", 0, 0, 2**31 - 1)
    found = state.audience_segments.find(app, parse_search(call.json()))
    body = _envelope(found[offset : offset + limit])
    body["meta"] = {"limit": limit, "offset": offset, "totalItems": len(found)}
    return body


def create_segments(
    state: SandboxState, app: SandboxApp, call: Call, params: dict[str, int]
) -> dict[str, Any]:
    """``POST audience-segments/create``: contact-list segments; a taken name is reported, not created."""
    return _bulk(app, call, parse_create, state.audience_segments.create)


def update_segments(
    state: SandboxState, app: SandboxApp, call: Call, params: dict[str, int]
) -> dict[str, Any]:
    """``PATCH audience-segments``: rename / describe; unknown ids and taken names are reported."""
    return _bulk(app, call, parse_update, state.audience_segments.update)


def delete_segments(
    state: SandboxState, app: SandboxApp, call: Call, params: dict[str, int]
) -> dict[str, Any]:
    """``POST audience-segments/delete``: unknown ids are reported, the others deleted."""
    return _bulk(app, call, parse_delete, state.audience_segments.delete)


def _bulk(
    app: SandboxApp,
    call: Call,
    parse: Callable[[Any], list[Any]],
    apply: Callable[[SandboxApp, list[Any]], BulkResult],
) -> dict[str, Any]:
    """A bulk create / update / delete: what it did, and each per-item failure as a problem of ``call``."""
    require_scope(app, AUDIENCE_MANAGE_SCOPE)
    done, failures = apply(app, parse(call.json()))
    return _envelope(done, [failure.to_problem(call.trace_id, call.path) for failure in failures])


def amend_contact_list(
    state: SandboxState, app: SandboxApp, call: Call, params: dict[str, int]
) -> dict[str, Any]:
    """``PATCH audience-segments/{id}/contact-list``: add or remove identifiers, idempotently."""
    require_scope(app, AUDIENCE_MANAGE_SCOPE)
    amendment = parse_amendment(call.json())
    valid, invalid = split_identifiers(amendment.identifier_type, amendment.identifiers)
    segment_id = params["segment_id"]
    state.audience_segments.amend(app, segment_id, amendment.operation, amendment.identifier_type, valid)
    return _envelope(
        {
            "type": "ContactlistAmendment",
            "attributes": {
                "contactListId": segment_id,
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
    require_scope(app, AUDIENCE_MANAGE_SCOPE)
    state.audience_segments.wipe(app, params["segment_id"])
    return _envelope({"id": str(params["segment_id"]), "type": "AudienceContactlist"})


def contact_list_statistics(
    state: SandboxState, app: SandboxApp, call: Call, params: dict[str, int]
) -> dict[str, Any]:
    """``GET audience-segments/{id}/contact-list/statistics``: every valid identifier counts as matched.

    With ``pending_statistics``, every count is null, as Criteo answers before it has matched a list.
    """
    require_scope(app, AUDIENCE_READ_SCOPE)
    count = state.audience_segments.member_count(app, params["segment_id"])
    attributes: dict[str, Any] = {
        "numberOfIdentifiers": count,
        "numberOfMatches": count,
        "matchRate": 1.0 if count else 0.0,
    }
    if state.settings.pending_statistics:
        attributes = dict.fromkeys(attributes)
    return _envelope(
        {"id": str(params["segment_id"]), "type": "ContactListStatistics", "attributes": attributes}
    )
