"""Creating, finding, renaming and deleting audience segments in the emulator."""

from __future__ import annotations

import pytest

from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID

SEGMENTS = "marketing-solutions/audience-segments"


def create_body(*names: str, advertiser_id: str = DEFAULT_ADVERTISER_ID) -> dict:
    """A create request for contact-list segments."""
    return {
        "data": [
            {
                "type": "AudienceSegment",
                "attributes": {"advertiserId": advertiser_id, "name": name, "contactList": {}},
            }
            for name in names
        ]
    }


def search(client, attributes: dict | None = None, **params) -> dict:
    """The body of a successful search."""
    response = client.call(
        "POST", f"{SEGMENTS}/search", {"data": {"attributes": attributes or {}}}, params=params
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_create_answers_the_created_contact_list_segments(client, criteo_sandbox):
    body = create_body("vip", "churners")
    body["data"][0]["attributes"]["description"] = "Best customers"

    response = client.call("POST", f"{SEGMENTS}/create", body)

    assert response.status_code == 200
    created = response.json()["data"]
    assert [segment["attributes"]["name"] for segment in created] == ["vip", "churners"]
    first = created[0]
    assert isinstance(first["id"], str)
    assert first["id"].isdigit()
    assert first["type"] == "AudienceSegment"
    assert first["attributes"]["advertiserId"] == DEFAULT_ADVERTISER_ID
    assert first["attributes"]["description"] == "Best customers"
    assert first["attributes"]["type"] == "ContactList"
    assert first["attributes"]["contactList"] == {"isReadOnly": False}
    assert first["attributes"]["createdAt"] == first["attributes"]["updatedAt"]
    assert response.json()["errors"] == []
    assert criteo_sandbox.segments() == created


def test_a_taken_name_is_reported_and_the_others_created(client, criteo_sandbox):
    client.create("vip")

    response = client.call("POST", f"{SEGMENTS}/create", create_body("new", "vip"))

    assert response.status_code == 200
    assert [segment["attributes"]["name"] for segment in response.json()["data"]] == ["new"]
    (error,) = response.json()["errors"]
    assert error["code"] == "name-must-be-unique"
    assert error["source"] == {"pointer": "/data/1/attributes/name"}
    assert error["traceId"] == response.headers["x-trace-id"]
    assert len(criteo_sandbox.segments()) == 2


def test_names_are_unique_per_advertiser_only(client, criteo_sandbox):
    criteo_sandbox.add_app("multi", "secret", advertiser_ids=("111", "222"))
    token = client.token("multi", "secret")

    client.create("vip", advertiser_id="111", token=token)
    client.create("vip", advertiser_id="222", token=token)

    assert len(criteo_sandbox.segments()) == 2
    assert len(criteo_sandbox.segments(advertiser_id="111")) == 1


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"name": "x", "contactList": {}}, "/data/0/attributes/advertiserId"),
        ({"advertiserId": "12345", "contactList": {}}, "/data/0/attributes/name"),
        ({"advertiserId": "12345", "name": "  ", "contactList": {}}, "/data/0/attributes/name"),
        ({"advertiserId": 12345, "name": "x", "contactList": {}}, "/data/0/attributes/advertiserId"),
        (
            {"advertiserId": "12345", "name": "x", "description": 3, "contactList": {}},
            "/data/0/attributes/description",
        ),
        ({"advertiserId": "12345", "name": "x"}, "/data/0/attributes/contactList"),
        (
            {"advertiserId": "12345", "name": "x", "contactList": {}, "lookalike": {"seedSegmentId": "1"}},
            "/data/0/attributes/lookalike",
        ),
    ],
)
def test_invalid_create_bodies_get_400_and_create_nothing(client, criteo_sandbox, attributes, pointer):
    body = {
        "data": [
            {
                "type": "AudienceSegment",
                "attributes": {"advertiserId": "12345", "name": "ok", "contactList": {}},
            }
        ]
    }
    body["data"].append({"type": "AudienceSegment", "attributes": attributes})
    pointer = pointer.replace("/data/0/", "/data/1/")

    response = client.call("POST", f"{SEGMENTS}/create", body)

    assert response.status_code == 400, response.text
    (error,) = response.json()["errors"]
    assert error["type"] == "validation"
    assert error["source"] == {"pointer": pointer}
    assert criteo_sandbox.segments() == []


@pytest.mark.parametrize("body", [{}, {"data": {}}, [], {"data": ["x"]}, {"data": [{"attributes": None}]}])
def test_malformed_create_envelopes_get_400(client, body):
    response = client.call("POST", f"{SEGMENTS}/create", body)

    assert response.status_code == 400
    assert response.json()["errors"][0]["type"] == "validation"


def test_search_pages_with_limit_offset_and_total_items(client):
    ids = [client.create(f"segment-{index}") for index in range(7)]

    pages = [search(client, limit=3, offset=offset) for offset in (0, 3, 6)]

    assert [page["meta"] for page in pages] == [
        {"limit": 3, "offset": 0, "totalItems": 7},
        {"limit": 3, "offset": 3, "totalItems": 7},
        {"limit": 3, "offset": 6, "totalItems": 7},
    ]
    assert [segment["id"] for page in pages for segment in page["data"]] == ids
    assert search(client)["meta"] == {"limit": 50, "offset": 0, "totalItems": 7}
    assert search(client, limit=0)["data"] == []
    assert search(client, offset=10)["data"] == []


@pytest.mark.parametrize(
    ("params", "parameter", "code"),
    [
        ({"limit": 101}, "limit", "invalid-ranged"),
        ({"limit": -1}, "limit", "invalid-ranged"),
        ({"offset": -1}, "offset", "invalid-ranged"),
        ({"limit": "ten"}, "limit", "invalid"),
        ({"offset": "1.5"}, "offset", "invalid"),
    ],
)
def test_search_refuses_bad_paging(client, params, parameter, code):
    response = client.call("POST", f"{SEGMENTS}/search", {"data": {}}, params=params)

    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert (error["code"], error["source"]) == (code, {"parameter": parameter})


def test_search_filters_are_and_ed(client, criteo_sandbox):
    criteo_sandbox.add_app(
        "sandbox-client-id", "sandbox-client-secret", advertiser_ids=(DEFAULT_ADVERTISER_ID, "777")
    )
    first = client.create("a")
    second = client.create("b")
    client.create("c", advertiser_id="777")

    def names(attributes: dict) -> list[str]:
        return [segment["attributes"]["name"] for segment in search(client, attributes)["data"]]

    assert names({}) == ["a", "b", "c"]
    assert names({"advertiserIds": ["777"]}) == ["c"]
    assert names({"audienceSegmentIds": [second, first]}) == ["a", "b"]
    assert names({"advertiserIds": ["777"], "audienceSegmentIds": [first]}) == []
    assert names({"audienceSegmentTypes": ["ContactList"], "audienceSegmentIds": [first]}) == ["a"]
    assert names({"audienceSegmentTypes": ["Lookalike", "InMarket"]}) == []


def test_search_without_filters_or_data_finds_everything(client):
    client.create("a")

    for body in ({}, {"data": {}}, {"data": {"type": "AudienceSegment"}}):
        response = client.call("POST", f"{SEGMENTS}/search", body)
        assert response.json()["meta"]["totalItems"] == 1


@pytest.mark.parametrize(
    ("attributes", "pointer"),
    [
        ({"audienceSegmentTypes": ["Contactlist"]}, "/data/attributes/audienceSegmentTypes/0"),
        ({"advertiserIds": "12345"}, "/data/attributes/advertiserIds"),
        ({"advertiserIds": [12345]}, "/data/attributes/advertiserIds/0"),
        ({"audienceSegmentIds": []}, "/data/attributes/audienceSegmentIds"),
    ],
)
def test_search_refuses_bad_filters(client, attributes, pointer):
    response = client.call("POST", f"{SEGMENTS}/search", {"data": {"attributes": attributes}})

    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"pointer": pointer}


def test_search_needs_a_json_body(client):
    assert client.call("POST", f"{SEGMENTS}/search").status_code == 415
    response = client.call("POST", f"{SEGMENTS}/search", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "required-field"


def test_update_renames_and_describes(client, criteo_sandbox):
    segment_id = client.create("old")
    body = {
        "data": [
            {
                "id": segment_id,
                "type": "AudienceSegment",
                "attributes": {"name": "new", "description": {"value": "d"}},
            }
        ]
    }

    response = client.call("PATCH", SEGMENTS, body)

    assert response.status_code == 200
    (updated,) = response.json()["data"]
    assert (updated["id"], updated["attributes"]["name"], updated["attributes"]["description"]) == (
        segment_id,
        "new",
        "d",
    )
    assert updated["attributes"]["updatedAt"] >= updated["attributes"]["createdAt"]
    assert criteo_sandbox.segments()[0]["attributes"]["name"] == "new"

    cleared = client.call(
        "PATCH", SEGMENTS, {"data": [{"id": segment_id, "attributes": {"description": {"value": None}}}]}
    )
    assert cleared.json()["data"][0]["attributes"]["description"] is None
    assert cleared.json()["data"][0]["attributes"]["name"] == "new"


def test_update_reports_unknown_segments_and_taken_names(client, criteo_sandbox):
    first = client.create("first")
    second = client.create("second")
    body = {
        "data": [
            {"id": "4242", "attributes": {"name": "ghost"}},
            {"id": second, "attributes": {"name": "first"}},
            {"id": first, "attributes": {"name": "renamed"}},
        ]
    }

    response = client.call("PATCH", SEGMENTS, body)

    assert response.status_code == 200
    assert [segment["id"] for segment in response.json()["data"]] == [first]
    assert [(error["code"], error["source"]) for error in response.json()["errors"]] == [
        ("segment-not-found", {"pointer": "/data/0/id"}),
        ("name-must-be-unique", {"pointer": "/data/1/attributes/name"}),
    ]
    assert sorted(segment["attributes"]["name"] for segment in criteo_sandbox.segments()) == [
        "renamed",
        "second",
    ]


@pytest.mark.parametrize(
    ("item", "pointer"),
    [
        ({"attributes": {"name": "x"}}, "/data/0/id"),
        ({"id": 5, "attributes": {"name": "x"}}, "/data/0/id"),
        ({"id": "abc", "attributes": {"name": "x"}}, "/data/0/id"),
        ({"id": "1", "attributes": {"description": "plain string"}}, "/data/0/attributes/description"),
        ({"id": "1", "attributes": {"description": {"value": 3}}}, "/data/0/attributes/description/value"),
        ({"id": "1"}, "/data/0/attributes"),
    ],
)
def test_invalid_update_bodies_get_400(client, item, pointer):
    response = client.call("PATCH", SEGMENTS, {"data": [item]})

    assert response.status_code == 400
    assert response.json()["errors"][0]["source"] == {"pointer": pointer}


def test_delete_removes_segments_and_reports_unknown_ones(client, criteo_sandbox):
    keep = client.create("keep")
    gone = client.create("gone")

    response = client.call(
        "POST",
        f"{SEGMENTS}/delete",
        {"data": [{"id": gone, "type": "AudienceSegment", "attributes": {}}, {"id": "9"}]},
    )

    assert response.status_code == 200
    assert response.json()["data"] == [{"id": gone, "type": "AudienceSegment"}]
    (error,) = response.json()["errors"]
    assert (error["code"], error["source"]) == ("segment-not-found", {"pointer": "/data/1/id"})
    assert [segment["id"] for segment in criteo_sandbox.segments()] == [keep]
    assert client.amend(gone, ["a@example.com"]).status_code == 404
