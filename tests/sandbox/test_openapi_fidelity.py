"""Every emulator response conforms to Criteo's OpenAPI specification, and the emulator is never laxer.

Success responses are validated with openapi-core against ``tests/openapi/marketingsolutions_2026-07.json``
(the sandbox URL mapped onto ``https://api.criteo.com``). The specification documents no error status for
the audience endpoints, so error bodies are validated against its problem schemas (``CommonProblem`` and
``AudienceError``). The autouse fixture of ``conftest.py`` also validates every journaled exchange of every
sandbox test.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_criteo.sandbox import AUDIENCE_READ_SCOPE
from tests.openapi_validation import validate_exchange, validate_recorded
from tests.sandbox.conftest import sha256

if TYPE_CHECKING:
    import requests

SEGMENTS = "marketing-solutions/audience-segments"
AMENDMENT = {
    "data": {
        "type": "ContactlistAmendment",
        "attributes": {"operation": "add", "identifierType": "email", "identifiers": ["a@example.com"]},
    }
}


def checked(
    client, method: str, path: str, body: Any = None, *, valid_request: bool = True, **kwargs
) -> requests.Response:
    """Call the sandbox and validate the exchange against the specification at once."""
    response = client.call(method, path, body, **kwargs)
    version = kwargs.get("version", "2026-07")
    query = requests_query(kwargs.get("params"))
    validate_exchange(
        method,
        f"/{version}/{path}{query}",
        body,
        response.status_code,
        response.json(),
        {"content-type": "application/json"},
        check_request=valid_request,
    )
    return response


def requests_query(params: dict | None) -> str:
    """The query string ``requests`` sends for ``params``."""
    return "?" + "&".join(f"{key}={value}" for key, value in params.items()) if params else ""


@pytest.mark.parametrize("version", ["2026-01", "2026-07", "2027-01"])
def test_every_documented_endpoint_answers_per_the_spec(client, criteo_sandbox, version):
    def call(method: str, path: str, body: Any = None, **kwargs) -> requests.Response:
        return checked(client, method, path, body, version=version, **kwargs)

    assert call("GET", "advertisers/me").status_code == 200
    assert call("GET", "marketing-solutions/me").status_code == 200
    create = {
        "data": [
            {
                "type": "AudienceSegment",
                "attributes": {"advertiserId": "12345", "name": name, "contactList": {}},
            }
            for name in ("a", "b", "a")
        ]
    }
    created = call("POST", f"{SEGMENTS}/create", create)
    assert created.json()["errors"][0]["code"] == "name-must-be-unique"
    first, second = (segment["id"] for segment in created.json()["data"])
    search = {
        "data": {
            "type": "AudienceSegment",
            "attributes": {
                "advertiserIds": ["12345"],
                "audienceSegmentTypes": ["ContactList"],
                "audienceSegmentIds": [first, second],
            },
        }
    }
    assert (
        call("POST", f"{SEGMENTS}/search", search, params={"limit": 1, "offset": 1}).json()["meta"][
            "totalItems"
        ]
        == 2
    )
    update = {
        "data": [
            {
                "id": first,
                "type": "AudienceSegment",
                "attributes": {"name": "renamed", "description": {"value": "d"}},
            },
            {"id": second, "type": "AudienceSegment", "attributes": {"name": "renamed"}},
            {"id": "999", "type": "AudienceSegment", "attributes": {"description": {"value": None}}},
        ]
    }
    assert len(call("PATCH", SEGMENTS, update).json()["errors"]) == 2
    amendment = copy.deepcopy(AMENDMENT)
    amendment["data"]["attributes"]["identifiers"] = [sha256("a@example.com"), "invalid"]
    assert call("PATCH", f"{SEGMENTS}/{first}/contact-list", amendment).status_code == 200
    gum = {
        "data": {
            "type": "ContactlistAmendment",
            "attributes": {
                "operation": "remove",
                "identifierType": "gum",
                "identifiers": ["g"],
                "gumCallerId": 3,
            },
        }
    }
    assert call("PATCH", f"{SEGMENTS}/{first}/contact-list", gum).status_code == 200
    assert call("GET", f"{SEGMENTS}/{first}/contact-list/statistics").status_code == 200
    assert call("DELETE", f"{SEGMENTS}/{first}/contact-list").status_code == 200
    delete = {
        "data": [
            {"id": first, "type": "AudienceSegment", "attributes": {}},
            {"id": "999", "type": "AudienceSegment"},
        ]
    }
    assert len(call("POST", f"{SEGMENTS}/delete", delete).json()["errors"]) == 1

    for entry in criteo_sandbox.requests:
        validate_recorded(entry)


def test_every_error_body_conforms_to_the_spec_problem_schemas(client, criteo_sandbox):
    segment_id = client.create("vip")
    criteo_sandbox.add_app("no-consent", "s", consent=False)
    criteo_sandbox.add_app("reader", "s", scopes=(AUDIENCE_READ_SCOPE,))
    amend_path = f"{SEGMENTS}/{segment_id}/contact-list"
    too_many = copy.deepcopy(AMENDMENT)
    too_many["data"]["attributes"]["identifiers"] = [f"u{index}@example.com" for index in range(50_001)]
    empty = copy.deepcopy(AMENDMENT)
    empty["data"]["attributes"]["identifiers"] = []

    def status(method: str, path: str, body: Any = None, **kwargs) -> int:
        return checked(client, method, path, body, valid_request=False, **kwargs).status_code

    assert status("GET", "marketing-solutions/me", token="unknown") == 401
    assert status("POST", f"{SEGMENTS}/search", {}, token=client.token("no-consent", "s")) == 403
    assert status("PATCH", amend_path, AMENDMENT, token=client.token("reader", "s")) == 403
    assert status("PATCH", f"{SEGMENTS}/4242/contact-list", AMENDMENT) == 404
    assert status("GET", f"{SEGMENTS}/4242/contact-list/statistics") == 404
    assert status("DELETE", f"{SEGMENTS}/4242/contact-list") == 404
    assert status("GET", f"{SEGMENTS}/x/contact-list/statistics") == 400
    assert status("PATCH", amend_path, empty) == 400
    assert status("POST", f"{SEGMENTS}/search", {}, params={"limit": 500}) == 400
    assert status("POST", f"{SEGMENTS}/create", {"data": [{"attributes": {}}]}) == 400
    assert status("PATCH", amend_path, too_many) == 413
    assert status("PATCH", amend_path, data=b"{}", headers={"Content-Type": "text/plain"}) == 415
    assert status("GET", "marketing-solutions/me", version="2020-01") == 410
    assert status("GET", f"{SEGMENTS}/delete") == 405
    criteo_sandbox.inject_fault(path="statistics", status=429)
    criteo_sandbox.inject_fault(path="statistics", status=503)
    assert status("GET", f"{SEGMENTS}/{segment_id}/contact-list/statistics") == 429
    assert status("GET", f"{SEGMENTS}/{segment_id}/contact-list/statistics") == 503
    criteo_sandbox.configure(rate_limit_per_minute=1)
    assert status("GET", "marketing-solutions/me") == 429
    criteo_sandbox.expire_tokens()
    assert status("GET", "marketing-solutions/me") == 401


def test_the_validator_catches_bodies_that_are_not_criteos():
    path = "/2026-07/marketing-solutions/audience-segments/1/contact-list/statistics"
    good = {"data": {"id": "1", "type": "ContactListStatistics", "attributes": {"numberOfIdentifiers": 1}}}
    validate_exchange("GET", path, None, 200, good)

    wrong_type = copy.deepcopy(good)
    wrong_type["data"]["attributes"]["numberOfIdentifiers"] = "1"
    with pytest.raises(AssertionError, match="specification"):
        validate_exchange("GET", path, None, 200, wrong_type)
    for bad_error in (
        {"errors": []},
        {"errors": [{"type": "validation", "instance": "/x"}]},
        {"errors": [{"type": "oops", "code": "x", "instance": "/x"}]},
        {"error": "invalid_client"},
    ):
        with pytest.raises(AssertionError, match="not Criteo's"):
            validate_exchange("GET", path, None, 404, bad_error)
    with pytest.raises(AssertionError, match="does not document"):
        validate_exchange("GET", path, None, 201, good)
    with pytest.raises(AssertionError, match="not in Criteo's specification"):
        validate_exchange("GET", "/2026-07/marketing-solutions/nothing", None, 404, {"errors": []})


VALID_SEARCH = {"data": {"type": "AudienceSegment", "attributes": {"advertiserIds": ["12345"]}}}


def mutated(body: dict, path: tuple, value: Any) -> dict:
    """A deep copy of ``body`` with the value at ``path`` replaced (or removed when ``value`` is ...)."""
    result = copy.deepcopy(body)
    target = result
    for key in path[:-1]:
        target = target[key]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return result


SPEC_INVALID_REQUESTS = [
    ("PATCH", "contact-list", mutated(AMENDMENT, ("data", "attributes", "operation"), "replace")),
    ("PATCH", "contact-list", mutated(AMENDMENT, ("data", "attributes", "operation"), ...)),
    ("PATCH", "contact-list", mutated(AMENDMENT, ("data", "attributes", "identifiers"), ...)),
    (
        "PATCH",
        "contact-list",
        mutated(AMENDMENT, ("data", "attributes", "identifiers"), ["ok@example.com", 1]),
    ),
    ("PATCH", "contact-list", mutated(AMENDMENT, ("data", "attributes", "identifierType"), "EMAIL")),
    ("PATCH", "contact-list", mutated(AMENDMENT, ("data", "attributes", "gumCallerId"), "12")),
    ("PATCH", "contact-list", mutated(AMENDMENT, ("data", "type"), ...)),
    ("PATCH", "contact-list", mutated(AMENDMENT, ("data", "attributes"), ...)),
    ("PATCH", "contact-list", {}),
    ("POST", "search", mutated(VALID_SEARCH, ("data", "attributes", "audienceSegmentTypes"), ["Contact"])),
    ("POST", "search", mutated(VALID_SEARCH, ("data", "attributes", "advertiserIds"), [12345])),
    ("POST", "search", mutated(VALID_SEARCH, ("data", "attributes"), [])),
    (
        "POST",
        "create",
        {"data": [{"type": "AudienceSegment", "attributes": {"name": "x", "contactList": {}}}]},
    ),
    ("POST", "create", {"data": [{"attributes": {"advertiserId": 1, "name": "x", "contactList": {}}}]}),
    ("POST", "create", {"data": [{"attributes": {"advertiserId": "1", "name": 2, "contactList": {}}}]}),
    ("POST", "create", {"data": {"attributes": {}}}),
    ("PATCH", "segments", {"data": [{"id": 5, "attributes": {"name": "x"}}]}),
    ("PATCH", "segments", {"data": [{"id": "5", "attributes": {"description": "plain"}}]}),
    ("POST", "delete", {"data": [{"id": 5}]}),
    ("POST", "delete", {"data": "5"}),
]


@pytest.mark.parametrize(("method", "endpoint", "body"), SPEC_INVALID_REQUESTS)
def test_requests_the_spec_refuses_are_refused_with_400(client, criteo_sandbox, method, endpoint, body):
    segment_id = client.create("vip")
    path = {
        "contact-list": f"{SEGMENTS}/{segment_id}/contact-list",
        "search": f"{SEGMENTS}/search",
        "create": f"{SEGMENTS}/create",
        "segments": SEGMENTS,
        "delete": f"{SEGMENTS}/delete",
    }[endpoint]
    with pytest.raises(AssertionError, match="does not conform"):
        validate_exchange(method, f"/2026-07/{path}", body, None, None)

    response = client.call(method, path, body)

    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["type"] == "validation"
    assert criteo_sandbox.members(segment_id) == set()
    assert len(criteo_sandbox.segments()) == 1


def test_identifier_type_is_required_although_the_spec_makes_it_optional(client):
    """criteo-api.md's amendment always names its identifierType; the emulator insists on it."""
    segment_id = client.create("vip")
    body = mutated(AMENDMENT, ("data", "attributes", "identifierType"), ...)
    validate_exchange("PATCH", f"/2026-07/{SEGMENTS}/{segment_id}/contact-list", body, None, None)

    response = client.call("PATCH", f"{SEGMENTS}/{segment_id}/contact-list", body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "required-field"


def test_token_exchanges_are_checked_against_the_contract(client, criteo_sandbox):
    client.token()
    client.token_response(client_secret="wrong")

    token_calls = [entry for entry in criteo_sandbox.requests if entry.path == "/oauth2/token"]
    assert [entry.status for entry in token_calls] == [200, 401]
    for entry in token_calls:
        validate_recorded(entry)
    with pytest.raises(AssertionError):
        validate_exchange("POST", "/oauth2/token", {"grant_type": "password"}, None, None)
