"""Authorization-code consent as the emulator serves it: the consent page, the code exchange, refresh
tokens that rotate, and a consent the advertiser withdraws (docs/criteo-consent.md)."""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING

import pytest
import requests

from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID, CriteoSandbox, SandboxState

if TYPE_CHECKING:
    from collections.abc import Mapping

APP = "agency-app"
SECRET = "agency-secret"
CALLBACK = "https://airflow.example.com/criteo/consent/callback"


@pytest.fixture
def agency(criteo_sandbox: CriteoSandbox) -> CriteoSandbox:
    """The sandbox with an authorization-code app whose redirect URI is ``CALLBACK``."""
    criteo_sandbox.add_app(APP, SECRET, advertiser_ids=[DEFAULT_ADVERTISER_ID], redirect_uris=[CALLBACK])
    return criteo_sandbox


def consent_link(sandbox: CriteoSandbox, **changes: str) -> str:
    query = {"response_type": "code", "client_id": APP, "redirect_uri": CALLBACK, "state": "s-1", **changes}
    return f"{sandbox.url}/request?{urllib.parse.urlencode(query)}"


def decide(sandbox: CriteoSandbox, decision: str, **changes: str) -> dict[str, str]:
    """Submit the consent page's form; the query the browser is sent back to the app with."""
    fields = {"response_type": "code", "client_id": APP, "redirect_uri": CALLBACK, "state": "s-1", **changes}
    answer = requests.post(
        f"{sandbox.url}/request", data={**fields, "decision": decision}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 303, answer.text
    location = urllib.parse.urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    return dict(urllib.parse.parse_qsl(location.query))


def token(sandbox: CriteoSandbox, **fields: str) -> requests.Response:
    form = {"client_id": APP, "client_secret": SECRET, **fields}
    return requests.post(f"{sandbox.url}/oauth2/token", data=form, timeout=10)


def exchanged(sandbox: CriteoSandbox, code: str, redirect_uri: str = CALLBACK) -> requests.Response:
    return token(sandbox, grant_type="authorization_code", code=code, redirect_uri=redirect_uri)


def refreshed(sandbox: CriteoSandbox, refresh_token: str) -> requests.Response:
    return token(sandbox, grant_type="refresh_token", refresh_token=refresh_token)


def advertisers(sandbox: CriteoSandbox, access_token: str) -> requests.Response:
    return requests.get(
        f"{sandbox.url}/2026-07/advertisers/me",
        headers={"Authorization": f"Bearer {access_token}"},
        timeout=10,
    )


def refused(response: requests.Response) -> Mapping[str, str]:
    assert response.status_code == 400, response.text
    return response.json()


def test_the_consent_page_names_the_app_and_its_advertisers(agency: CriteoSandbox):
    page = requests.get(consent_link(agency), timeout=10)
    assert page.status_code == 200
    assert APP in page.text
    assert f"({DEFAULT_ADVERTISER_ID})" in page.text
    assert 'value="approve"' in page.text
    assert 'value="s-1"' in page.text  # the state goes back as it came


def test_approval_sends_a_code_that_buys_an_access_token_and_a_refresh_token(agency: CriteoSandbox):
    back = decide(agency, "approve")
    assert back["state"] == "s-1"
    answer = exchanged(agency, back["code"])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 900)
    assert body["refresh_token"]
    listed = advertisers(agency, body["access_token"]).json()["data"]
    assert [advertiser["id"] for advertiser in listed] == [DEFAULT_ADVERTISER_ID]


def test_a_code_is_spent_once_and_only_with_its_redirect_uri(agency: CriteoSandbox):
    code = decide(agency, "approve")["code"]
    elsewhere = "https://elsewhere.example.com/callback"
    assert refused(exchanged(agency, code, elsewhere))["error"] == "invalid_grant"
    assert exchanged(agency, code).status_code == 200  # a wrong redirect_uri did not spend it
    assert refused(exchanged(agency, code))["error"] == "invalid_grant"  # replayed


def test_another_apps_code_or_refresh_token_is_refused_and_stays_its_owners(agency: CriteoSandbox):
    agency.add_app("other-app", "other-secret", redirect_uris=[CALLBACK])
    other = {"client_id": "other-app", "client_secret": "other-secret"}
    code = decide(agency, "approve")["code"]
    stolen = token(agency, **other, grant_type="authorization_code", code=code, redirect_uri=CALLBACK)
    assert refused(stolen)["error"] == "invalid_grant"
    refresh_token = exchanged(agency, code).json()["refresh_token"]
    stolen = token(agency, **other, grant_type="refresh_token", refresh_token=refresh_token)
    assert refused(stolen)["error"] == "invalid_grant"
    assert refreshed(agency, refresh_token).status_code == 200


def test_each_refresh_rotates_the_refresh_token_and_spends_the_old_one(agency: CriteoSandbox):
    first = exchanged(agency, decide(agency, "approve")["code"]).json()["refresh_token"]
    again = refreshed(agency, first)
    assert again.status_code == 200, again.text
    second = again.json()["refresh_token"]
    assert second not in (None, first)
    assert refused(refreshed(agency, first))["error"] == "invalid_grant"
    assert refreshed(agency, second).status_code == 200


def test_an_expired_refresh_token_is_refused(agency: CriteoSandbox):
    refresh_token = exchanged(agency, decide(agency, "approve")["code"]).json()["refresh_token"]
    agency.expire_refresh_tokens()
    assert refused(refreshed(agency, refresh_token))["error"] == "invalid_grant"


def test_a_revoked_consent_refuses_the_calls_and_the_refresh_token(agency: CriteoSandbox):
    body = exchanged(agency, decide(agency, "approve")["code"]).json()
    agency.revoke_consent(APP)
    call = advertisers(agency, body["access_token"])
    assert call.status_code == 200
    assert call.json()["data"] == []  # no advertiser grants it anything any more
    segments = requests.post(
        f"{agency.url}/2026-07/marketing-solutions/audience-segments/search",
        json={"data": {"attributes": {"advertiserIds": [DEFAULT_ADVERTISER_ID]}}},
        headers={"Authorization": f"Bearer {body['access_token']}"},
        timeout=10,
    )
    assert segments.status_code == 403
    assert segments.json()["errors"][0]["code"] == "consent-missing"
    assert refused(refreshed(agency, body["refresh_token"]))["error"] == "invalid_grant"


def test_a_denial_goes_back_with_access_denied_and_grants_nothing(agency: CriteoSandbox):
    assert decide(agency, "deny") == {"error": "access_denied", "state": "s-1"}
    assert not agency.state.apps[APP].consent


def test_an_undeclared_redirect_uri_is_blocked_not_followed(agency: CriteoSandbox):
    page = requests.get(
        consent_link(agency, redirect_uri="https://attacker.example.com/steal"),
        allow_redirects=False,
        timeout=10,
    )
    assert page.status_code == 400
    assert "not declared" in page.text
    assert "location" not in page.headers


def test_a_wrong_response_type_goes_back_with_its_error(agency: CriteoSandbox):
    assert decide(agency, "approve", response_type="token") == {
        "error": "unsupported_response_type",
        "state": "s-1",
    }


def test_each_app_uses_its_own_grant(agency: CriteoSandbox):
    assert refused(token(agency, grant_type="client_credentials"))["error"] == "unauthorized_client"
    default = requests.post(
        f"{agency.url}/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "anything",
            "client_id": "sandbox-client-id",
            "client_secret": "sandbox-client-secret",
        },
        timeout=10,
    )
    assert refused(default)["error"] == "unauthorized_client"


@pytest.mark.parametrize(
    "uris",
    [
        ["http://airflow.example.com/callback"],
        ["https:///callback"],
        ["airflow.example.com/callback"],
        ["https://airflow.example.com/callback#fragment"],
        [f"https://airflow.example.com/{i}" for i in range(31)],
    ],
    ids=["http", "no host", "no scheme", "a fragment", "31 of them"],
)
def test_redirect_uris_are_criteos_https_uris_at_most_thirty(uris: list[str]):
    with pytest.raises(ValueError, match="https"):
        SandboxState().add_app(APP, SECRET, redirect_uris=uris)


def test_a_redirect_uri_that_is_not_a_string_is_a_bad_request(criteo_sandbox: CriteoSandbox):
    answer = requests.post(
        f"{criteo_sandbox.url}/_sandbox/apps",
        json={"client_id": APP, "client_secret": SECRET, "redirect_uris": [123]},
        timeout=10,
    )
    assert answer.status_code == 400


def test_a_state_file_keeps_redirect_uris_and_consent_not_codes_or_refresh_tokens(
    agency: CriteoSandbox, tmp_path
):
    refresh_token = exchanged(agency, decide(agency, "approve")["code"]).json()["refresh_token"]
    code = decide(agency, "approve")["code"]
    path = tmp_path / "state.json"
    agency.state.save(path)
    agency.state.load(path)
    app = agency.state.apps[APP]
    assert (app.redirect_uris, app.consent) == ((CALLBACK,), True)
    assert refused(refreshed(agency, refresh_token))["error"] == "invalid_grant"  # in memory only
    assert refused(exchanged(agency, code))["error"] == "invalid_grant"


def test_a_replaced_app_loses_its_codes_and_refresh_tokens(agency: CriteoSandbox):
    refresh_token = exchanged(agency, decide(agency, "approve")["code"]).json()["refresh_token"]
    agency.add_app(APP, SECRET, redirect_uris=[CALLBACK])
    assert refused(refreshed(agency, refresh_token))["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "changes",
    [
        {"client_id": "sandbox-client-id"},
        {"client_id": "unknown"},
        {"redirect_uri": "https://attacker.example.com/"},
    ],
    ids=["a client-credentials app", "an unknown app", "an undeclared redirect URI"],
)
def test_a_tampered_decision_is_blocked_not_followed(agency: CriteoSandbox, changes):
    fields = {"response_type": "code", "client_id": APP, "redirect_uri": CALLBACK, "state": "s", **changes}
    answer = requests.post(
        f"{agency.url}/request", data={**fields, "decision": "approve"}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert not agency.state.apps[APP].consent


def test_the_state_is_escaped_on_the_page_and_encoded_on_the_way_back(agency: CriteoSandbox):
    hostile = '"><script>alert(1)</script>'
    page = requests.get(consent_link(agency, state=hostile), timeout=10).text
    assert "<script>alert" not in page
    assert decide(agency, "approve", state=hostile)["state"] == hostile


def test_without_a_state_none_goes_back_and_a_query_in_the_redirect_uri_is_kept(
    criteo_sandbox: CriteoSandbox,
):
    with_query = f"{CALLBACK}?tenant=a"
    criteo_sandbox.add_app(APP, SECRET, redirect_uris=[with_query])
    answer = requests.post(
        f"{criteo_sandbox.url}/request",
        data={"response_type": "code", "client_id": APP, "redirect_uri": with_query, "decision": "deny"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.headers["location"] == f"{with_query}&error=access_denied"


def test_the_control_api_revokes_a_consent_and_expires_refresh_tokens(agency: CriteoSandbox):
    refresh_token = exchanged(agency, decide(agency, "approve")["code"]).json()["refresh_token"]
    assert requests.post(f"{agency.url}/_sandbox/apps/unknown/revoke-consent", timeout=10).status_code == 404
    assert requests.post(f"{agency.url}/_sandbox/expire-refresh-tokens", timeout=10).json() == {
        "expired": True
    }
    assert refused(refreshed(agency, refresh_token))["error"] == "invalid_grant"
    assert requests.post(f"{agency.url}/_sandbox/apps/{APP}/revoke-consent", timeout=10).json() == {
        "revoked": True
    }
    assert not agency.state.apps[APP].consent
