"""The emulator's schema-minimal answers: only what Criteo's OpenAPI guarantees.

Criteo's schema marks almost every response field optional, and many nullable; a client proven only
against full answers breaks on the first lean one. In this mode (``Settings.schema_minimal``) the
emulator answers the same calls with the same effects, but leaves out every optional field that does
not carry the resource's own data, sends ``null`` where the schema allows it, and reports as the
leaner documented variants do:

- envelopes: no ``errors`` / ``warnings`` where they are optional; no search ``meta``;
- resources: ids without ``type``; segments with their ``name`` and ``description`` (when set) and a
  ``contactList`` only when it is read-only, without advertiser, type or timestamps; created, updated
  and deleted segments as ids only ("returns their IDs");
- per-item failures of create / update / delete in ``warnings`` of a 200, as Criteo's Retail Media
  and Commerce Grid pages for the same model list them;
- amendments with their required ``operation`` only (no counts, no samples); statistics all ``null``
  (not matched yet); advertisers as ids; the application as ``data: null``;
- problems with the deprecated ``traceIdentifier`` instead of ``traceId`` (``traceId: null`` where the
  schema requires the key).

Every answer still validates against the OpenAPI specification (the test suite checks).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


def _ids(body: dict[str, Any]) -> dict[str, Any]:
    return {"data": [{"id": item["id"]} for item in body["data"]]}


def _bulk(body: dict[str, Any]) -> dict[str, Any]:
    """Created, updated or deleted segments as ids, per-item failures as warnings."""
    lean = _ids(body)
    if body.get("errors"):
        lean["warnings"] = [common_problem(problem) for problem in body["errors"]]
    return lean


def _segment(resource: dict[str, Any]) -> dict[str, Any]:
    attributes = resource["attributes"]
    lean: dict[str, Any] = {"name": attributes["name"]}
    if attributes.get("description") is not None:
        lean["description"] = attributes["description"]
    if attributes["contactList"].get("isReadOnly"):
        lean["contactList"] = {"isReadOnly": True}
    return {"id": resource["id"], "attributes": lean}


def _search(body: dict[str, Any]) -> dict[str, Any]:
    return {"data": [_segment(resource) for resource in body["data"]]}


def _amendment(body: dict[str, Any]) -> dict[str, Any]:
    data = body["data"]
    attributes = {"operation": data["attributes"]["operation"]}
    return {"data": {"type": data["type"], "attributes": attributes}, "errors": [], "warnings": []}


def _statistics(body: dict[str, Any]) -> dict[str, Any]:
    counts = ("numberOfIdentifiers", "numberOfMatches", "matchRate")
    return {"data": {"attributes": dict.fromkeys(counts)}}


def _application(body: dict[str, Any]) -> dict[str, Any]:
    return {"data": None}


def _as_is(body: dict[str, Any]) -> dict[str, Any]:
    return body


#: The lean form of each endpoint's answer, by handler name.
REDUCERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "advertisers_me": _ids,
    "application_me": _application,
    "search_segments": _search,
    "create_segments": _bulk,
    "update_segments": _bulk,
    "delete_segments": _bulk,
    "amend_contact_list": _amendment,
    "wipe_contact_list": _as_is,  # every field of a wipe's answer is required
    "contact_list_statistics": _statistics,
}


def minimal_answer(handler: str, body: dict[str, Any]) -> dict[str, Any]:
    """The schema-minimal form of a successful answer of ``handler``."""
    return REDUCERS[handler](body)


def common_problem(problem: dict[str, Any]) -> dict[str, Any]:
    """A problem as a ``CommonProblem`` may carry it: ``traceIdentifier``, no ``traceId``."""
    lean = {key: value for key, value in problem.items() if key != "traceId"}
    lean["traceIdentifier"] = problem.get("traceId")
    return lean


def minimal_error(envelope: dict[str, Any]) -> dict[str, Any]:
    """An error answer: its problems with ``traceIdentifier`` (``traceId`` null), no ``warnings``."""
    return {"errors": [{**common_problem(problem), "traceId": None} for problem in envelope["errors"]]}
