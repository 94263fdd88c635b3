"""OAuth tokens, bearer authentication, permissions and API versions of the emulator."""

from __future__ import annotations

import time

import pytest
import requests

from airflow_provider_criteo.sandbox import AUDIENCE_READ_SCOPE, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from airflow_provider_criteo.sandbox.auth import bearer_token, presented_token
from airflow_provider_criteo.sandbox.problems import ApiProblem

SEGMENTS = "marketing-solutions/audience-segments"


def only_error(response: requests.Response) -> dict:
    """The single problem of an error response, checked to carry the response's trace id."""
    body = response.json()
    assert len(body["errors"]) == 1, body
    problem = body["errors"][0]
    assert problem["traceId"] == response.headers["x-trace-id"]
    assert problem["instance"] == requests.utils.urlparse(response.url).path
    return problem


def test_token_is_issued_for_client_credentials(client):
    response = client.token_response()

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["refresh_token"] is None
    assert body["expires_in"] == 900
    assert len(body["access_token"]) >= 32
    assert response.headers["cache-control"] == "no-store"


def test_token_lifetime_is_configurable(client, criteo_sandbox):
    criteo_sandbox.configure(token_lifetime=60)

    assert client.token_response().json()["expires_in"] == 60


@pytest.mark.parametrize(
    ("client_id", "client_secret"),
    [(DEFAULT_CLIENT_ID, "wrong-secret"), ("unknown-client", DEFAULT_CLIENT_SECRET)],
)
def test_bad_credentials_get_401_invalid_client(client, client_id, client_secret):
    response = client.token_response(client_id, client_secret)

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.json()["error_description"]


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}, "invalid_request"),
        ({"grant_type": "client_credentials", "client_id": DEFAULT_CLIENT_ID}, "invalid_request"),
        ({"grant_type": "client_credentials", "client_secret": DEFAULT_CLIENT_SECRET}, "invalid_request"),
        (
            {
                "grant_type": "password",
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
            },
            "unsupported_grant_type",
        ),
    ],
)
def test_incomplete_token_requests_get_400(criteo_sandbox, form, error):
    response = requests.post(f"{criteo_sandbox.url}/oauth2/token", data=form, timeout=5)

    assert response.status_code == 400
    assert response.json()["error"] == error


def test_token_request_must_be_form_encoded(criteo_sandbox):
    form = {
        "grant_type": "client_credentials",
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    }

    response = requests.post(f"{criteo_sandbox.url}/oauth2/token", json=form, timeout=5)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_several_tokens_are_valid_at_once(client):
    first, second = client.token(), client.token()

    assert first != second
    for token in (first, second):
        assert client.call("GET", "marketing-solutions/me", token=token).status_code == 200


def test_a_call_without_token_gets_401_token_missing(criteo_sandbox):
    response = requests.get(f"{criteo_sandbox.url}/2026-07/marketing-solutions/me", timeout=5)

    assert response.status_code == 401
    problem = only_error(response)
    assert (problem["type"], problem["code"]) == ("authentication", "authorization-token-missing")


@pytest.mark.parametrize("authorization", ["Basic abc", "Bearer", "Bearer two words", "Bearer not-a-token"])
def test_malformed_or_unknown_tokens_get_401_token_invalid(criteo_sandbox, authorization):
    response = requests.get(
        f"{criteo_sandbox.url}/2026-07/marketing-solutions/me",
        headers={"Authorization": authorization},
        timeout=5,
    )

    assert response.status_code == 401
    problem = only_error(response)
    assert (problem["type"], problem["code"]) == ("authentication", "authorization-token-invalid")


def test_expired_tokens_get_401_token_expired_and_a_new_token_works(client, criteo_sandbox):
    token = client.token()
    criteo_sandbox.expire_tokens()

    response = client.call("GET", "marketing-solutions/me", token=token)

    assert response.status_code == 401
    assert only_error(response)["code"] == "authorization-token-expired"
    assert client.call("GET", "marketing-solutions/me", token=client.token()).status_code == 200


def test_tokens_expire_after_their_lifetime(client, criteo_sandbox):
    criteo_sandbox.configure(token_lifetime=0.2)
    token = client.token()
    assert client.call("GET", "marketing-solutions/me", token=token).status_code == 200

    time.sleep(0.25)

    assert only_error(client.call("GET", "marketing-solutions/me", token=token))["code"] == (
        "authorization-token-expired"
    )


def test_every_response_has_a_fresh_trace_id(client):
    responses = [client.call("GET", "marketing-solutions/me") for _ in range(3)]
    responses.append(client.call("GET", "marketing-solutions/nowhere"))

    trace_ids = {response.headers["x-trace-id"] for response in responses}
    assert len(trace_ids) == 4
    assert all(len(trace_id) == 32 and int(trace_id, 16) >= 0 for trace_id in trace_ids)


def test_advertisers_me_lists_the_apps_advertisers(client, criteo_sandbox):
    criteo_sandbox.add_app("multi", "secret", advertiser_ids=("111", "222"))

    response = client.call("GET", "advertisers/me", token=client.token("multi", "secret"))

    assert response.status_code == 200
    assert response.json() == {
        "data": [
            {"type": "advertiser", "id": "111", "attributes": {"advertiserName": "Sandbox advertiser 111"}},
            {"type": "advertiser", "id": "222", "attributes": {"advertiserName": "Sandbox advertiser 222"}},
        ],
        "errors": [],
        "warnings": [],
    }


def test_me_describes_the_calling_application(client):
    response = client.call("GET", "marketing-solutions/me")

    assert response.status_code == 200
    attributes = response.json()["data"]["attributes"]
    assert attributes["name"] == DEFAULT_CLIENT_ID
    assert isinstance(attributes["applicationId"], int)


def test_an_app_without_consent_sees_no_advertiser_and_gets_403_on_audiences(client, criteo_sandbox):
    criteo_sandbox.add_app("no-consent", "secret", consent=False)
    token = client.token("no-consent", "secret")

    assert client.call("GET", "advertisers/me", token=token).json()["data"] == []
    assert client.call("GET", "marketing-solutions/me", token=token).status_code == 200
    response = client.call("POST", f"{SEGMENTS}/search", {"data": {"attributes": {}}}, token=token)
    assert response.status_code == 403
    problem = only_error(response)
    assert (problem["type"], problem["code"]) == ("authorization", "consent-missing")


def test_an_app_with_read_scope_only_may_search_but_not_create(client, criteo_sandbox):
    criteo_sandbox.add_app("reader", "secret", scopes=(AUDIENCE_READ_SCOPE,))
    token = client.token("reader", "secret")

    assert client.call("POST", f"{SEGMENTS}/search", {"data": {}}, token=token).status_code == 200
    body = {"data": [{"attributes": {"advertiserId": "12345", "name": "x", "contactList": {}}}]}
    response = client.call("POST", f"{SEGMENTS}/create", body, token=token)
    assert response.status_code == 403
    assert only_error(response)["code"] == "insufficient-scope"
    assert criteo_sandbox.segments() == []


def test_acting_on_another_advertiser_gets_403(client, criteo_sandbox):
    criteo_sandbox.add_app("other", "secret", advertiser_ids=("999",))
    theirs = client.create("theirs", advertiser_id="999", token=client.token("other", "secret"))

    create = {"data": [{"attributes": {"advertiserId": "999", "name": "mine", "contactList": {}}}]}
    search = {"data": {"attributes": {"advertiserIds": ["999"]}}}
    responses = [
        client.call("POST", f"{SEGMENTS}/create", create),
        client.call("POST", f"{SEGMENTS}/search", search),
        client.amend(theirs, ["a@example.com"]),
        client.call("GET", f"{SEGMENTS}/{theirs}/contact-list/statistics"),
        client.call("DELETE", f"{SEGMENTS}/{theirs}/contact-list"),
        client.call("POST", f"{SEGMENTS}/delete", {"data": [{"id": theirs}]}),
    ]

    for response in responses:
        assert response.status_code == 403, response.text
        problem = only_error(response)
        assert (problem["type"], problem["code"]) == ("authorization", "advertiser-not-allowed")
    assert [segment["attributes"]["name"] for segment in criteo_sandbox.segments()] == ["theirs"]
    assert criteo_sandbox.members(theirs) == set()


def test_other_apps_segments_are_not_found_by_search(client, criteo_sandbox):
    criteo_sandbox.add_app("other", "secret", advertiser_ids=("999",))
    client.create("theirs", advertiser_id="999", token=client.token("other", "secret"))

    response = client.call("POST", f"{SEGMENTS}/search", {"data": {"attributes": {}}})

    assert response.json()["data"] == []


@pytest.mark.parametrize(
    "form",
    [
        b"grant_type=client_credentials&client_id=a&client_id=b&client_secret=s",
        b"grant_type=client_credentials&client_id=\xff&client_secret=s",
    ],
)
def test_ambiguous_or_undecodable_token_forms_get_400(criteo_sandbox, form):
    response = requests.post(
        f"{criteo_sandbox.url}/oauth2/token",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=5,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_the_token_endpoint_takes_post_only(criteo_sandbox):
    response = requests.get(f"{criteo_sandbox.url}/oauth2/token", timeout=5)

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("authorization", "token"),
    [("Bearer abc", "abc"), ("bearer  abc ", "abc"), ("Basic abc", "abc"), (None, "")],
)
def test_the_presented_token_follows_the_scheme(authorization, token):
    assert presented_token(authorization) == token


def test_only_a_well_formed_bearer_header_yields_its_token():
    assert bearer_token("Bearer abc") == "abc"
    for authorization, code in [
        (None, "authorization-token-missing"),
        ("Basic abc", "authorization-token-invalid"),
    ]:
        with pytest.raises(ApiProblem) as refused:
            bearer_token(authorization)
        assert (refused.value.status, refused.value.code) == (401, code)
