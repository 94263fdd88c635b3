"""The route table: API versions served, gone or malformed, unknown endpoints and wrong methods."""

from __future__ import annotations

import pytest

from tests.sandbox.test_auth import only_error

SEGMENTS = "marketing-solutions/audience-segments"


@pytest.mark.parametrize("version", ["2026-01", "2026-07", "2027-01"])
def test_supported_versions_are_served(client, version):
    assert client.call("GET", "marketing-solutions/me", version=version).status_code == 200
    assert client.call("GET", "advertisers/me", version=version).status_code == 200


@pytest.mark.parametrize("version", ["2025-10", "2024-01", "2030-07"])
def test_other_well_formed_versions_are_gone(client, version):
    response = client.call("GET", "marketing-solutions/me", version=version)

    assert response.status_code == 410
    assert only_error(response)["type"] == "deprecation"


@pytest.mark.parametrize("version", ["v1", "preview", "2026-13", "2026-7", "26-07"])
def test_malformed_versions_are_not_found(client, version):
    response = client.call("GET", "marketing-solutions/me", version=version)

    assert response.status_code == 404
    assert only_error(response)["code"] == "not-found"


def test_unknown_endpoints_get_404_and_wrong_methods_405(client):
    assert client.call("GET", "marketing-solutions/campaigns").status_code == 404
    response = client.call("GET", f"{SEGMENTS}/create")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert only_error(response)["code"] == "method-not-allowed"
