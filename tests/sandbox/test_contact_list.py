"""Contact-list amendments, wipes and statistics in the emulator."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.sandbox.conftest import sha256
from tests.sandbox.test_minimal import create

SEGMENTS = "marketing-solutions/audience-segments"


def amendment_body(identifiers: list, operation: str = "add", identifier_type: str = "email") -> dict:
    """A contact-list amendment request body."""
    attributes = {"operation": operation, "identifierType": identifier_type, "identifiers": identifiers}
    return {"data": {"type": "ContactlistAmendment", "attributes": attributes}}


def test_add_stores_valid_identifiers_and_counts_invalid_ones(client, criteo_sandbox):
    segment_id = client.create("vip")
    hashed = sha256("ann@example.com")
    identifiers = [hashed, sha256("bob@example.com"), "not-an-email", "x@y", hashed.upper(), "ab" * 15]

    response = client.amend(segment_id, identifiers)

    assert response.status_code == 200
    body = response.json()
    assert body["errors"] == []
    assert body["warnings"] == []
    assert body["data"]["type"] == "ContactlistAmendment"
    attributes = body["data"]["attributes"]
    assert attributes["contactListId"] == int(segment_id)
    assert (attributes["operation"], attributes["identifierType"]) == ("add", "email")
    assert (attributes["nbValidIdentifiers"], attributes["nbInvalidIdentifiers"]) == (2, 4)
    assert attributes["sampleInvalidIdentifiers"] == ["not-an-email", "x@y", hashed.upper(), "ab" * 15]
    assert attributes["requestDate"].startswith("20")
    assert criteo_sandbox.members(segment_id) == {hashed, sha256("bob@example.com")}


@pytest.mark.parametrize(
    "identifiers",
    [
        [sha256("ann@example.com"), "bob@example.com"],  # SHA-256 and a plain address
        [sha256("ann@example.com"), hashlib.md5(b"bob@example.com").hexdigest()],  # SHA-256 and MD5
        ["ann@example.com", hashlib.md5(b"bob@example.com").hexdigest()],
    ],
)
def test_one_request_holds_e_mails_of_one_form(client, criteo_sandbox, identifiers):
    segment_id = client.create("vip")
    response = client.amend(segment_id, identifiers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "mixed-identifier-forms"
    assert criteo_sandbox.members(segment_id) == set()


def test_e_mails_given_as_md5_digests_are_valid(client, criteo_sandbox):
    segment_id = client.create("vip")
    md5 = [hashlib.md5(f"user{i}@example.com".encode()).hexdigest() for i in range(3)]
    attributes = client.amend(segment_id, [*md5, "f" * 31]).json()["data"]["attributes"]
    assert (attributes["nbValidIdentifiers"], attributes["nbInvalidIdentifiers"]) == (3, 1)
    assert criteo_sandbox.members(segment_id) == set(md5)


@pytest.mark.parametrize(
    "identifier",
    [
        "a@example.com",
        "first.last+tag@sub.example.co.uk",
        "ALICE@EXAMPLE.COM",
        "0" * 64,
        "0123456789abcdef" * 4,
        "0123456789abcdef" * 2,  # MD5
    ],
)
def test_valid_email_identifiers(client, criteo_sandbox, identifier):
    segment_id = client.create("vip")

    assert client.amend(segment_id, [identifier]).json()["data"]["attributes"]["nbValidIdentifiers"] == 1
    assert criteo_sandbox.members(segment_id) == {identifier}


@pytest.mark.parametrize(
    "identifier",
    [
        "",
        " ",
        "plain",
        "a@b",
        "a@b.c",
        "a@@b.com",
        "a b@example.com",
        " a@example.com",
        "a@example.com\n",
        "f" * 63,
        "f" * 65,
        "F" * 64,
        "F" * 32,
        "f" * 31,
        "g" * 64,
        "a@example.123",
    ],
)
def test_invalid_email_identifiers_are_skipped(client, criteo_sandbox, identifier):
    segment_id = client.create("vip")

    attributes = client.amend(segment_id, [identifier]).json()["data"]["attributes"]

    assert (attributes["nbValidIdentifiers"], attributes["nbInvalidIdentifiers"]) == (0, 1)
    assert attributes["sampleInvalidIdentifiers"] == [identifier]
    assert criteo_sandbox.members(segment_id) == set()


def test_invalid_samples_are_capped(client):
    segment_id = client.create("vip")

    attributes = client.amend(segment_id, [f"bad-{index}" for index in range(25)]).json()["data"][
        "attributes"
    ]

    assert attributes["nbInvalidIdentifiers"] == 25
    assert attributes["sampleInvalidIdentifiers"] == [f"bad-{index}" for index in range(10)]


def test_amendments_are_idempotent(client, criteo_sandbox):
    segment_id = client.create("vip")
    members = [sha256(f"user{index}@example.com") for index in range(5)]

    client.amend(segment_id, members)
    again = client.amend(segment_id, members)
    assert again.json()["data"]["attributes"]["nbValidIdentifiers"] == 5
    assert criteo_sandbox.members(segment_id) == set(members)

    client.amend(segment_id, [*members[:2], sha256("never@example.com")], operation="remove")
    client.amend(segment_id, members[:2], operation="remove")

    assert criteo_sandbox.members(segment_id) == set(members[2:])
    assert client.statistics(segment_id) == {"numberOfIdentifiers": 3, "numberOfMatches": 3, "matchRate": 1.0}


def test_phone_numbers_are_hashed_or_plain_e164(client, criteo_sandbox):
    segment_id = client.create("vip")
    hpn = sha256("33140402290")
    numbers = [hpn, "+33140402290", "33140402290", "+0140402290", "+1234567890123456", hpn.upper()]
    attributes = client.amend(segment_id, numbers, identifier_type="phoneNumber").json()["data"]["attributes"]
    assert (attributes["nbValidIdentifiers"], attributes["nbInvalidIdentifiers"]) == (2, 4)
    assert criteo_sandbox.members(segment_id, "phoneNumber") == {hpn, "+33140402290"}


@pytest.mark.parametrize("identifier_type", ["madid", "identityLink"])
def test_other_identifier_types_are_kept_apart(client, criteo_sandbox, identifier_type):
    segment_id = client.create("vip")
    client.amend(segment_id, ["a@example.com"])

    attributes = client.amend(
        segment_id, ["id-1", "a@example.com", "  "], identifier_type=identifier_type
    ).json()["data"]["attributes"]

    assert (attributes["nbValidIdentifiers"], attributes["nbInvalidIdentifiers"]) == (2, 1)
    assert criteo_sandbox.members(segment_id, identifier_type) == {"id-1", "a@example.com"}
    assert criteo_sandbox.members(segment_id, "email") == {"a@example.com"}
    client.amend(segment_id, ["a@example.com"], operation="remove", identifier_type=identifier_type)
    assert criteo_sandbox.members(segment_id) == {"id-1", "a@example.com"}
    assert client.statistics(segment_id)["numberOfIdentifiers"] == 2


def test_gum_identifiers_need_a_gum_caller_id(client, criteo_sandbox):
    segment_id = client.create("vip")
    path = f"{SEGMENTS}/{segment_id}/contact-list"

    def amend(attributes: dict):
        body = {"data": {"type": "ContactlistAmendment", "attributes": {"operation": "add", **attributes}}}
        return client.call("PATCH", path, body)

    missing = amend({"identifierType": "gum", "identifiers": ["g1"]})
    assert missing.status_code == 400
    assert missing.json()["errors"][0]["code"] == "required-field"
    assert missing.json()["errors"][0]["source"] == {"pointer": "/data/attributes/gumCallerId"}
    assert amend({"identifierType": "email", "identifiers": ["a@b.com"], "gumCallerId": 7}).status_code == 400
    assert amend({"identifierType": "gum", "identifiers": ["g1"], "gumCallerId": "7"}).status_code == 400
    assert amend({"identifierType": "gum", "identifiers": ["g1"], "gumCallerId": True}).status_code == 400
    assert criteo_sandbox.members(segment_id) == set()

    assert amend({"identifierType": "gum", "identifiers": ["g1"], "gumCallerId": 7}).status_code == 200
    assert criteo_sandbox.members(segment_id, "gum") == {"g1"}


def test_50000_identifiers_are_accepted(client, criteo_sandbox):
    segment_id = client.create("vip")
    identifiers = [sha256(f"user{index}@example.com") for index in range(50_000)]

    response = client.amend(segment_id, identifiers)

    assert response.status_code == 200
    assert response.json()["data"]["attributes"]["nbValidIdentifiers"] == 50_000
    assert len(criteo_sandbox.members(segment_id)) == 50_000


@pytest.mark.parametrize("operation", ["add", "remove"])
def test_more_than_50000_identifiers_get_413_and_change_nothing(client, criteo_sandbox, operation):
    segment_id = client.create("vip")
    client.amend(segment_id, ["keep@example.com"])

    response = client.amend(
        segment_id,
        ["keep@example.com"] + [f"u{index}@example.com" for index in range(50_000)],
        operation=operation,
    )

    assert response.status_code == 413
    (error,) = response.json()["errors"]
    assert (error["type"], error["code"]) == ("validation", "too-many-identifiers")
    assert criteo_sandbox.members(segment_id) == {"keep@example.com"}


@pytest.mark.parametrize(
    ("body", "code", "pointer"),
    [
        ({}, "required-field", "/data"),
        ({"data": []}, "invalid", "/data"),
        ({"data": {"attributes": {}}}, "required-field", "/data/type"),
        ({"data": {"type": "ContactlistAmendment"}}, "required-field", "/data/attributes"),
        (
            {"data": {"type": "C", "attributes": {"identifierType": "email", "identifiers": ["a@b.com"]}}},
            "required-field",
            "/data/attributes/operation",
        ),
        (
            {
                "data": {
                    "type": "C",
                    "attributes": {
                        "operation": "replace",
                        "identifierType": "email",
                        "identifiers": ["a@b.com"],
                    },
                }
            },
            "invalid",
            "/data/attributes/operation",
        ),
        (
            {"data": {"type": "C", "attributes": {"operation": "add", "identifiers": ["a@b.com"]}}},
            "required-field",
            "/data/attributes/identifierType",
        ),
        (
            {
                "data": {
                    "type": "C",
                    "attributes": {"operation": "add", "identifierType": "Email", "identifiers": ["a@b.com"]},
                }
            },
            "invalid",
            "/data/attributes/identifierType",
        ),
        (
            {"data": {"type": "C", "attributes": {"operation": "add", "identifierType": "email"}}},
            "required-field",
            "/data/attributes/identifiers",
        ),
        (
            {
                "data": {
                    "type": "C",
                    "attributes": {"operation": "add", "identifierType": "email", "identifiers": []},
                }
            },
            "invalid",
            "/data/attributes/identifiers",
        ),
        (
            {
                "data": {
                    "type": "C",
                    "attributes": {"operation": "add", "identifierType": "email", "identifiers": "a@b.com"},
                }
            },
            "invalid",
            "/data/attributes/identifiers",
        ),
        (
            {
                "data": {
                    "type": "C",
                    "attributes": {
                        "operation": "add",
                        "identifierType": "email",
                        "identifiers": ["a@b.com", 7],
                    },
                }
            },
            "invalid",
            "/data/attributes/identifiers/1",
        ),
        (
            {
                "data": {
                    "type": "C",
                    "attributes": {"operation": "add", "identifierType": "email", "identifiers": [None]},
                }
            },
            "invalid",
            "/data/attributes/identifiers/0",
        ),
        ({"data": {"type": 1, "attributes": {}}}, "invalid", "/data/type"),
        (["a@b.com"], "invalid", "/"),
    ],
)
def test_amendments_failing_the_schema_get_400_with_the_field(client, criteo_sandbox, body, code, pointer):
    segment_id = client.create("vip")

    response = client.call("PATCH", f"{SEGMENTS}/{segment_id}/contact-list", body)

    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert (error["type"], error["code"], error["source"]) == ("validation", code, {"pointer": pointer})
    assert criteo_sandbox.members(segment_id) == set()


def test_a_body_that_is_not_json_gets_400(client):
    segment_id = client.create("vip")

    response = client.call(
        "PATCH",
        f"{SEGMENTS}/{segment_id}/contact-list",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "invalid"


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "text/json", None]
)
def test_json_endpoints_refuse_other_content_types_with_415(client, criteo_sandbox, content_type):
    segment_id = client.create("vip")
    body = json.dumps(amendment_body(["a@b.com"])).encode()
    headers = {"Content-Type": content_type} if content_type else {}

    response = client.call("PATCH", f"{SEGMENTS}/{segment_id}/contact-list", data=body, headers=headers)

    assert response.status_code == 415
    assert response.json()["errors"][0]["code"] == "unsupported-media-type"
    assert criteo_sandbox.members(segment_id) == set()


def test_json_content_type_parameters_are_accepted(client, criteo_sandbox):
    segment_id = client.create("vip")
    body = json.dumps(amendment_body(["a@b.com"])).encode()

    response = client.call(
        "PATCH",
        f"{SEGMENTS}/{segment_id}/contact-list",
        data=body,
        headers={"Content-Type": "Application/JSON; charset=utf-8"},
    )

    assert response.status_code == 200
    assert criteo_sandbox.members(segment_id) == {"a@b.com"}


def test_wipe_removes_every_member(client, criteo_sandbox):
    segment_id = client.create("vip")
    client.amend(segment_id, ["a@example.com", "b@example.com"])
    client.amend(segment_id, ["device-1"], identifier_type="madid")

    response = client.call("DELETE", f"{SEGMENTS}/{segment_id}/contact-list")

    assert response.status_code == 200
    assert response.json() == {
        "data": {"id": segment_id, "type": "AudienceContactlist"},
        "errors": [],
        "warnings": [],
    }
    assert criteo_sandbox.members(segment_id) == set()
    assert client.statistics(segment_id) == {"numberOfIdentifiers": 0, "numberOfMatches": 0, "matchRate": 0.0}


def test_statistics_count_every_valid_identifier_as_matched(client):
    segment_id = client.create("vip")
    client.amend(segment_id, ["a@example.com", "b@example.com", "bad"])

    response = client.call("GET", f"{SEGMENTS}/{segment_id}/contact-list/statistics")

    assert response.json() == {
        "data": {
            "id": segment_id,
            "type": "ContactListStatistics",
            "attributes": {"numberOfIdentifiers": 2, "numberOfMatches": 2, "matchRate": 1.0},
        },
        "errors": [],
        "warnings": [],
    }


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("PATCH", "contact-list"), ("DELETE", "contact-list"), ("GET", "contact-list/statistics")],
)
def test_unknown_segments_get_404_segment_not_found(client, method, suffix):
    body = {
        "data": {
            "type": "C",
            "attributes": {"operation": "add", "identifierType": "email", "identifiers": ["a@b.com"]},
        }
    }

    response = client.call(method, f"{SEGMENTS}/424242/{suffix}", body if method == "PATCH" else None)

    assert response.status_code == 404
    (error,) = response.json()["errors"]
    assert error["code"] == "segment-not-found"


@pytest.mark.parametrize("segment_id", ["abc", "-1", "1.5", "99999999999"])
def test_path_ids_must_be_numeric(client, segment_id):
    response = client.call("GET", f"{SEGMENTS}/{segment_id}/contact-list/statistics")

    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"parameter": "audience-segment-id"}


def test_read_only_contact_lists_refuse_amendments_and_wipes(client, criteo_sandbox):
    segment_id = create(client, "partner list").json()["data"][0]["id"]
    client.amend(segment_id, [sha256("ann@example.com")])
    criteo_sandbox.set_read_only(segment_id)
    for response in (
        client.amend(segment_id, [sha256("bob@example.com")]),
        client.call("DELETE", f"{SEGMENTS}/{segment_id}/contact-list"),
    ):
        assert response.status_code == 403
        assert response.json()["errors"][0]["code"] == "contact-list-read-only"
    assert criteo_sandbox.members(segment_id) == {sha256("ann@example.com")}
    (segment,) = criteo_sandbox.segments()
    assert segment["attributes"]["contactList"] == {"isReadOnly": True}


def test_pending_statistics_are_null_in_the_full_answers_too(client, criteo_sandbox):
    segment_id = create(client, "vip").json()["data"][0]["id"]
    criteo_sandbox.configure(pending_statistics=True)
    assert client.statistics(segment_id) == {
        "numberOfIdentifiers": None,
        "numberOfMatches": None,
        "matchRate": None,
    }
