"""Criteo's official Python SDK, pointed at the emulator, works end to end.

The SDK (``criteo-api-marketingsolutions-sdk``) fetches its token with ``POST {host}/oauth2/token``
(form-encoded client credentials, see ``criteo_auth.RetryingOAuth``) and deserialises every response
into its generated models, so any drift between the emulator and Criteo's models shows up here.
"""

from __future__ import annotations

import pytest
from criteo_api_marketingsolutions_v2026_07.api.advertiser_api import AdvertiserApi
from criteo_api_marketingsolutions_v2026_07.api.audience_api import AudienceApi
from criteo_api_marketingsolutions_v2026_07.api.gateway_api import GatewayApi
from criteo_api_marketingsolutions_v2026_07.exceptions import ApiException
from criteo_api_marketingsolutions_v2026_07.model.audience_segment_bulk_create_input_v1 import (
    AudienceSegmentBulkCreateInputV1,
)
from criteo_api_marketingsolutions_v2026_07.model.audience_segment_bulk_delete_input_v1 import (
    AudienceSegmentBulkDeleteInputV1,
)
from criteo_api_marketingsolutions_v2026_07.model.audience_segment_bulk_update_input_v1 import (
    AudienceSegmentBulkUpdateInputV1,
)
from criteo_api_marketingsolutions_v2026_07.model.audience_segment_create_entity_v1 import (
    AudienceSegmentCreateEntityV1,
)
from criteo_api_marketingsolutions_v2026_07.model.audience_segment_create_entity_v1_resource import (
    AudienceSegmentCreateEntityV1Resource,
)
from criteo_api_marketingsolutions_v2026_07.model.audience_segment_delete_entity_v1_resource import (
    AudienceSegmentDeleteEntityV1Resource,
)
from criteo_api_marketingsolutions_v2026_07.model.audience_segment_search_entity_v1 import (
    AudienceSegmentSearchEntityV1,
)
from criteo_api_marketingsolutions_v2026_07.model.audience_segment_search_entity_v1_resource import (
    AudienceSegmentSearchEntityV1Resource,
)
from criteo_api_marketingsolutions_v2026_07.model.audience_segment_search_input_v1 import (
    AudienceSegmentSearchInputV1,
)
from criteo_api_marketingsolutions_v2026_07.model.audience_segment_update_entity_v1 import (
    AudienceSegmentUpdateEntityV1,
)
from criteo_api_marketingsolutions_v2026_07.model.audience_segment_update_entity_v1_resource import (
    AudienceSegmentUpdateEntityV1Resource,
)
from criteo_api_marketingsolutions_v2026_07.model.contactlist_amendment import ContactlistAmendment
from criteo_api_marketingsolutions_v2026_07.model.contactlist_amendment_attributes import (
    ContactlistAmendmentAttributes,
)
from criteo_api_marketingsolutions_v2026_07.model.contactlist_amendment_request import (
    ContactlistAmendmentRequest,
)
from criteo_api_marketingsolutions_v2026_07.model.nillable_string import NillableString

from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID, DEFAULT_CLIENT_ID
from tests.sandbox.conftest import sha256


def create_input(*names: str, description: str | None = None) -> AudienceSegmentBulkCreateInputV1:
    """An SDK request creating contact-list segments of the default advertiser."""
    extra = {} if description is None else {"description": description}
    return AudienceSegmentBulkCreateInputV1(
        data=[
            AudienceSegmentCreateEntityV1Resource(
                type="AudienceSegment",
                attributes=AudienceSegmentCreateEntityV1(
                    advertiser_id=DEFAULT_ADVERTISER_ID, name=name, contact_list={}, **extra
                ),
            )
            for name in names
        ]
    )


def search_input() -> AudienceSegmentSearchInputV1:
    """An SDK search of the default advertiser's contact lists."""
    return AudienceSegmentSearchInputV1(
        data=AudienceSegmentSearchEntityV1Resource(
            type="AudienceSegment",
            attributes=AudienceSegmentSearchEntityV1(
                advertiser_ids=[DEFAULT_ADVERTISER_ID], audience_segment_types=["ContactList"]
            ),
        )
    )


def amendment(operation: str, identifiers: list[str]) -> ContactlistAmendmentRequest:
    """An SDK amendment request for e-mail identifiers."""
    attributes = ContactlistAmendmentAttributes(
        operation=operation, identifier_type="email", identifiers=identifiers
    )
    return ContactlistAmendmentRequest(
        data=ContactlistAmendment(type="ContactlistAmendment", attributes=attributes)
    )


def test_sdk_creates_a_segment_amends_its_contact_list_and_reads_statistics(sdk_client, criteo_sandbox):
    audience = AudienceApi(sdk_client)

    created = audience.create_audience_segments(create_input("vip", description="Best customers"))
    segment_id = created.data[0].id
    emails = [sha256(f"user{index}@example.com") for index in range(100)]
    amended = audience.update_contact_list_by_audience_segment(
        segment_id, amendment("add", [*emails, "nope"])
    )
    statistics = audience.get_audience_segment_contact_list_statistics(segment_id)

    assert created.data[0].attributes.name == "vip"
    assert amended.data.attributes.nb_valid_identifiers == 100
    assert amended.data.attributes.nb_invalid_identifiers == 1
    assert amended.data.attributes.sample_invalid_identifiers == ["nope"]
    assert statistics.data.attributes.number_of_identifiers == 100
    assert statistics.data.attributes.number_of_matches == 100
    assert criteo_sandbox.members(segment_id) == set(emails)


def test_sdk_covers_every_emulated_endpoint(sdk_client, criteo_sandbox):
    audience = AudienceApi(sdk_client)
    advertisers = AdvertiserApi(sdk_client).list_advertisers()
    application = GatewayApi(sdk_client).get_current_application()
    created = audience.create_audience_segments(create_input("a", "b", "a"))
    first = created.data[0].id
    found = audience.search_audience_segments(search_input(), limit=1, offset=1)
    updated = audience.update_audience_segments(
        AudienceSegmentBulkUpdateInputV1(
            data=[
                AudienceSegmentUpdateEntityV1Resource(
                    id=first,
                    type="AudienceSegment",
                    attributes=AudienceSegmentUpdateEntityV1(
                        name="renamed", description=NillableString(value="d")
                    ),
                )
            ]
        )
    )
    audience.update_contact_list_by_audience_segment(
        first, amendment("add", ["a@example.com", "b@example.com"])
    )
    audience.update_contact_list_by_audience_segment(first, amendment("remove", ["a@example.com"]))
    wiped = audience.delete_contact_list_by_audience_segment(first)
    deleted = audience.delete_audience_segments(
        AudienceSegmentBulkDeleteInputV1(
            data=[AudienceSegmentDeleteEntityV1Resource(id=first, type="AudienceSegment")]
        )
    )

    assert [advertiser.id for advertiser in advertisers.data] == [DEFAULT_ADVERTISER_ID]
    assert application.data.attributes.name == DEFAULT_CLIENT_ID
    assert [segment.attributes.name for segment in created.data] == ["a", "b"]
    assert created.errors[0].code == "name-must-be-unique"
    assert (found.meta.total_items, found.data[0].attributes.name) == (2, "b")
    assert updated.data[0].attributes.description == "d"
    assert wiped.data.id == first
    assert deleted.data[0].id == first
    assert [segment["attributes"]["name"] for segment in criteo_sandbox.segments()] == ["b"]


def test_sdk_sees_criteo_errors(sdk_client):
    audience = AudienceApi(sdk_client)

    with pytest.raises(ApiException) as raised:
        audience.get_audience_segment_contact_list_statistics("424242")

    assert raised.value.status == 404
    assert "segment-not-found" in raised.value.body
