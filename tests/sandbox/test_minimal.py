"""The schema-minimal sandbox: the same effects, answered with only what Criteo's OpenAPI guarantees.

Every answer here is also validated against Criteo's specification (the suite's autouse check), and
Criteo's official SDK deserialises each of them.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import pytest
from criteo_api_marketingsolutions_v2026_07.api.advertiser_api import AdvertiserApi
from criteo_api_marketingsolutions_v2026_07.api.audience_api import AudienceApi
from criteo_api_marketingsolutions_v2026_07.api.gateway_api import GatewayApi

from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID
from tests.sandbox.conftest import sha256
from tests.sandbox.test_official_sdk import amendment, create_input, search_input

if TYPE_CHECKING:
    import requests

SEGMENTS = "marketing-solutions/audience-segments"


@pytest.fixture
def minimal(criteo_sandbox):
    criteo_sandbox.configure(schema_minimal=True)
    return criteo_sandbox


def create(client, *names: str) -> requests.Response:
    items = [
        {
            "type": "AudienceSegment",
            "attributes": {"advertiserId": DEFAULT_ADVERTISER_ID, "name": n, "contactList": {}},
        }
        for n in names
    ]
    return client.call("POST", f"{SEGMENTS}/create", {"data": items})


def test_created_segments_are_ids_and_a_taken_name_is_a_warning(client, minimal):
    body = create(client, "vip", "vip").json()
    assert body["data"] == [{"id": body["data"][0]["id"]}]
    assert "errors" not in body
    (warning,) = body["warnings"]
    assert warning["code"] == "name-must-be-unique"
    assert "traceId" not in warning
    assert warning["traceIdentifier"]


def test_search_has_no_meta_and_segments_carry_their_own_data_only(client, minimal):
    segment_id = create(client, "vip").json()["data"][0]["id"]
    client.call(
        "PATCH", SEGMENTS, {"data": [{"id": segment_id, "attributes": {"description": {"value": "d"}}}]}
    )
    minimal.set_read_only(segment_id)
    body = client.call("POST", f"{SEGMENTS}/search", {"data": {"attributes": {}}}).json()
    assert body == {
        "data": [
            {
                "id": segment_id,
                "attributes": {"name": "vip", "description": "d", "contactList": {"isReadOnly": True}},
            }
        ]
    }


def test_updates_and_deletes_answer_ids_and_report_failures_as_warnings(client, minimal):
    segment_id = create(client, "vip").json()["data"][0]["id"]
    updated = client.call("PATCH", SEGMENTS, {"data": [{"id": segment_id, "attributes": {"name": "new"}}]})
    assert updated.json() == {"data": [{"id": segment_id}]}
    missing = client.call("PATCH", SEGMENTS, {"data": [{"id": "424242", "attributes": {"name": "x"}}]}).json()
    assert (missing["data"], missing["warnings"][0]["code"]) == ([], "segment-not-found")
    deleted = client.call("POST", f"{SEGMENTS}/delete", {"data": [{"id": segment_id}, {"id": "424242"}]})
    assert deleted.status_code == 200
    assert deleted.json()["data"] == [{"id": segment_id}]
    assert [w["code"] for w in deleted.json()["warnings"]] == ["segment-not-found"]


def test_amendments_answer_their_operation_only_and_statistics_are_not_computed(client, minimal):
    segment_id = create(client, "vip").json()["data"][0]["id"]
    body = client.amend(segment_id, [sha256("ann@example.com"), "nope"]).json()
    assert body == {
        "data": {"type": "ContactlistAmendment", "attributes": {"operation": "add"}},
        "errors": [],
        "warnings": [],
    }
    assert minimal.members(segment_id) == {sha256("ann@example.com")}  # the same effect
    assert client.statistics(segment_id) == {
        "numberOfIdentifiers": None,
        "numberOfMatches": None,
        "matchRate": None,
    }


def test_errors_carry_trace_identifier(client, minimal):
    response = client.call("GET", f"{SEGMENTS}/424242/contact-list/statistics")
    assert response.status_code == 404
    (problem,) = response.json()["errors"]
    assert (problem["code"], problem["traceId"]) == ("segment-not-found", None)
    assert problem["traceIdentifier"] == response.headers["x-trace-id"]


def test_advertisers_are_ids_and_the_application_is_null(client, minimal):
    assert client.call("GET", "advertisers/me").json() == {"data": [{"id": DEFAULT_ADVERTISER_ID}]}
    assert client.call("GET", "marketing-solutions/me").json() == {"data": None}


def test_the_official_sdk_reads_every_minimal_answer(sdk_client, minimal):
    audience = AudienceApi(sdk_client)
    assert [a.id for a in AdvertiserApi(sdk_client).list_advertisers().data] == [DEFAULT_ADVERTISER_ID]
    assert GatewayApi(sdk_client).get_current_application().data is None
    created = audience.create_audience_segments(create_input("a", "a"))
    segment_id = created.data[0].id
    assert created.warnings[0].code == "name-must-be-unique"
    found = audience.search_audience_segments(search_input(), limit=10, offset=0)
    assert [s.id for s in found.data] == [segment_id]
    assert "meta" not in found
    md5 = [hashlib.md5(f"user{i}@example.com".encode()).hexdigest() for i in range(3)]
    amended = audience.update_contact_list_by_audience_segment(segment_id, amendment("add", md5))
    assert amended.data.attributes.operation == "add"
    statistics = audience.get_audience_segment_contact_list_statistics(segment_id)
    assert statistics.data.attributes.number_of_identifiers is None
    assert audience.delete_contact_list_by_audience_segment(segment_id).data.id == segment_id
    assert minimal.members(segment_id) == set()
