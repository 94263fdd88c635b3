from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest
from airflow.sdk._shared.secrets_masker import redact

from airflow_provider_criteo.client.resources import chunked
from airflow_provider_criteo.client.throttle import RateLimiter
from airflow_provider_criteo.client.transport import CriteoTransport
from airflow_provider_criteo.exceptions import (
    CriteoAuthenticationError,
    CriteoConfigurationError,
    CriteoNotFoundError,
    CriteoRateLimitError,
    CriteoServerError,
    CriteoValidationError,
    CriteoVersionGoneError,
)
from airflow_provider_criteo.hooks.criteo import CriteoHook
from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID, DEFAULT_CLIENT_SECRET
from tests.helpers import FakeClock, criteo_connection_json

TOKEN_PATH = "/oauth2/token"


def hex_digest(i: int) -> str:
    return f"{i:064x}"


def calls_to(sandbox, fragment: str, method: str | None = None) -> list:
    return [r for r in sandbox.requests if fragment in r.path and (method is None or r.method == method)]


def test_chunked_splits_any_iterable_lazily():
    assert list(chunked(iter(range(7)), 3)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(chunked([], 3)) == []


def test_list_advertisers_and_application(hook):
    advertisers = hook.list_advertisers()
    assert [a.id for a in advertisers] == [DEFAULT_ADVERTISER_ID]
    assert hook.get_application()  # the emulator's application summary is non-empty


def test_token_is_fetched_once_and_reused(hook, criteo_sandbox):
    hook.list_advertisers()
    hook.get_application()
    hook.list_advertisers()
    assert len(calls_to(criteo_sandbox, TOKEN_PATH)) == 1


def test_expired_token_is_refreshed_once_and_the_call_retried(hook, criteo_sandbox):
    hook.list_advertisers()
    criteo_sandbox.expire_tokens()
    assert [a.id for a in hook.list_advertisers()] == [DEFAULT_ADVERTISER_ID]
    assert len(calls_to(criteo_sandbox, TOKEN_PATH)) == 2
    statuses = [r.status for r in calls_to(criteo_sandbox, "advertisers/me")]
    assert statuses == [200, 401, 200]


def test_token_is_renewed_before_it_expires(hook, criteo_sandbox):
    criteo_sandbox.configure(token_lifetime=1)
    hook.list_advertisers()
    time.sleep(1.1)
    hook.list_advertisers()
    # Refreshed ahead of expiry: no call was ever refused.
    assert [r.status for r in calls_to(criteo_sandbox, "advertisers/me")] == [200, 200]
    assert len(calls_to(criteo_sandbox, TOKEN_PATH)) == 2


def test_bad_credentials_fail_at_once_with_a_clear_error(criteo_sandbox, monkeypatch):
    conn = criteo_connection_json(criteo_sandbox.url)
    monkeypatch.setenv("AIRFLOW_CONN_CRITEO_DEFAULT", conn.replace(DEFAULT_CLIENT_SECRET, "wrong-secret"))
    hook = CriteoHook(retry_backoff=0.01)
    with pytest.raises(CriteoAuthenticationError) as err:
        hook.list_advertisers()
    assert err.value.status == 401
    assert err.value.code == "invalid_client"
    assert "Client Secret of the Airflow connection 'criteo_default'" in str(err.value)
    assert "wrong-secret" not in str(err.value)
    assert len(calls_to(criteo_sandbox, TOKEN_PATH)) == 1


def test_a_token_refused_after_refresh_is_not_retried_forever(hook, criteo_sandbox):
    criteo_sandbox.inject_fault(path="advertisers/me", status=401, count=5)
    with pytest.raises(CriteoAuthenticationError):
        hook.list_advertisers()
    assert len(calls_to(criteo_sandbox, "advertisers/me")) == 2


def test_retry_deadline_bounds_the_whole_call_token_fetches_included(criteo_conn, criteo_sandbox):
    # The call waits 2 s out of its 2.5 s for a 503, then needs a new token, and Criteo asks for 1 s
    # between token requests. A fetch with a deadline of its own would retry until 2 + 2.5 s; within
    # what is left of the call, no retry fits.
    hook = CriteoHook(criteo_conn, retry_backoff=0.01, retry_deadline=2.5)
    hook.list_advertisers()
    criteo_sandbox.inject_fault(path="advertisers/me", status=503, retry_after=2)
    criteo_sandbox.inject_fault(path="advertisers/me", status=401)
    criteo_sandbox.inject_fault(path=TOKEN_PATH, status=429, retry_after=1, count=10)
    with pytest.raises(CriteoRateLimitError):
        hook.list_advertisers()
    assert [r.status for r in calls_to(criteo_sandbox, TOKEN_PATH)] == [200, 429]


def test_429_storm_is_ridden_out(criteo_conn, criteo_sandbox):
    # 429s are Criteo pacing the app, not failures: more of them than max_retries are ridden out, backing
    # off exponentially when the reset gives no wait (retrying at once would only meet another 429).
    hook = CriteoHook(criteo_conn, timeout=5, retry_backoff=0.001)
    hook.transport.rate_limiter = RateLimiter(1000)
    criteo_sandbox.inject_fault(path="advertisers/me", status=429, count=1)
    reset_now = {"x-ratelimit-reset": str(int(time.time()))}
    criteo_sandbox.inject_fault(path="advertisers/me", status=429, count=11, headers=reset_now)
    assert hook.list_advertisers()
    assert [r.status for r in calls_to(criteo_sandbox, "advertisers/me")] == [429] * 12 + [200]


def test_retry_after_header_is_honoured(hook, criteo_sandbox):
    criteo_sandbox.inject_fault(path="advertisers/me", status=429, count=1, retry_after=1)
    started = time.monotonic()
    hook.list_advertisers()
    assert time.monotonic() - started >= 1.0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_burst_is_retried(hook, criteo_sandbox, status):
    criteo_sandbox.inject_fault(path="audience-segments/search", status=status, count=3)
    assert list(hook.search_audience_segments(advertiser_ids=[DEFAULT_ADVERTISER_ID])) == []
    assert [r.status for r in calls_to(criteo_sandbox, "search")] == [status] * 3 + [200]


def test_persistent_5xx_gives_up_naming_endpoint_status_code_and_trace(criteo_conn, criteo_sandbox):
    hook = CriteoHook(criteo_conn, max_retries=2, retry_backoff=0.01)
    criteo_sandbox.inject_fault(path="advertisers/me", status=503, count=10)
    with pytest.raises(CriteoServerError) as err:
        hook.list_advertisers()
    message = str(err.value)
    assert "GET /2026-07/advertisers/me" in message
    assert "status=503" in message
    assert err.value.code
    assert err.value.trace_id
    assert f"traceId={err.value.trace_id}" in message
    assert "gave up after 3 attempts" in message
    assert len(calls_to(criteo_sandbox, "advertisers/me")) == 3


def test_deadline_bounds_the_wait_for_a_rate_limit_reset(criteo_conn, criteo_sandbox):
    hook = CriteoHook(criteo_conn, retry_deadline=0.5)
    reset = str(int(time.time()) + 30)
    criteo_sandbox.inject_fault(
        path="advertisers/me", status=429, count=1, headers={"x-ratelimit-reset": reset}
    )
    started = time.monotonic()
    with pytest.raises(CriteoRateLimitError):
        hook.list_advertisers()
    assert time.monotonic() - started < 5


def test_dropped_connections_are_retried(hook, criteo_sandbox):
    criteo_sandbox.inject_fault(path="advertisers/me", drop_connection=True, count=2)
    assert hook.list_advertisers()
    assert len(calls_to(criteo_sandbox, "advertisers/me")) >= 3


def test_read_timeouts_are_retried(criteo_conn, criteo_sandbox):
    hook = CriteoHook(criteo_conn, timeout=0.3, retry_backoff=0.01)
    criteo_sandbox.inject_fault(path="advertisers/me", delay=1.0, count=1)
    assert hook.list_advertisers()


def test_unknown_segment_is_not_retried(hook, criteo_sandbox):
    with pytest.raises(CriteoNotFoundError) as err:
        hook.wipe_contact_list("999999")
    assert err.value.code == "segment-not-found"
    assert len(calls_to(criteo_sandbox, "999999")) == 1


@pytest.mark.off_spec
def test_decommissioned_api_version_says_how_to_fix_it(criteo_sandbox, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRITEO_DEFAULT", criteo_connection_json(criteo_sandbox.url, api_version="2024-01")
    )
    with pytest.raises(CriteoVersionGoneError) as err:
        CriteoHook().list_advertisers()
    assert err.value.status == 410
    assert "api_version" in str(err.value)


def test_create_find_get_or_create(hook):
    assert hook.find_contact_list_segment("vip") is None
    created, was_created = hook.get_or_create_contact_list_segment("vip", description="VIP buyers")
    assert was_created
    assert created.name == "vip"
    assert created.advertiser_id == DEFAULT_ADVERTISER_ID
    assert created.is_contact_list
    again, was_created = hook.get_or_create_contact_list_segment("vip")
    assert not was_created
    assert again.id == created.id
    assert hook.find_contact_list_segment("vip") == again


def test_duplicate_name_is_a_validation_error(hook):
    hook.create_contact_list_segment("vip")
    with pytest.raises(CriteoValidationError) as err:
        hook.create_contact_list_segment("vip")
    assert err.value.code == "name-must-be-unique"


def test_get_or_create_survives_a_concurrent_creation(hook, criteo_conn, monkeypatch):
    other = CriteoHook(criteo_conn)
    find = hook.find_contact_list_segment
    # The first lookup misses; meanwhile another task creates the segment.
    calls = iter([None])

    def racing_find(name, **kwargs):
        missing = next(calls, "found")
        if missing is None:
            other.create_contact_list_segment(name)
            return None
        return find(name, **kwargs)

    monkeypatch.setattr(hook, "find_contact_list_segment", racing_find)
    segment, created = hook.get_or_create_contact_list_segment("vip")
    assert not created
    assert segment.id == other.find_contact_list_segment("vip").id


def test_search_follows_every_page(hook):
    names = {f"segment-{i:03d}" for i in range(120)}
    for name in names:
        hook.create_contact_list_segment(name)
    found = list(hook.search_audience_segments(advertiser_ids=[DEFAULT_ADVERTISER_ID], page_size=50))
    assert {s.name for s in found} == names
    assert len(found) == 120


def test_rename_describe_and_delete(hook, criteo_sandbox):
    segment = hook.create_contact_list_segment("old")
    renamed = hook.update_audience_segment(segment.id, name="new", description="renamed")
    assert (renamed.name, renamed.description) == ("new", "renamed")
    assert hook.find_contact_list_segment("new").id == segment.id
    assert hook.delete_audience_segments([segment.id]) == [segment.id]
    assert hook.find_contact_list_segment("new") is None
    assert criteo_sandbox.segments() == []
    assert hook.delete_audience_segments([segment.id]) == []  # already gone: nothing to confirm


def test_a_2xx_carrying_errors_is_not_a_silent_success(hook):
    segment = hook.create_contact_list_segment("vip")
    with pytest.raises(CriteoNotFoundError) as err:
        hook.update_audience_segment("424242", name="x")
    assert err.value.code == "segment-not-found"
    assert hook.find_contact_list_segment("vip") == segment


def test_add_120001_identifiers_in_three_requests(hook, criteo_sandbox):
    segment = hook.create_contact_list_segment("big")
    result = hook.add_identifiers(segment.id, (hex_digest(i) for i in range(120_001)))
    assert (result.requests, result.valid, result.invalid) == (3, 120_001, 0)
    sizes = [
        len(r.body["data"]["attributes"]["identifiers"])
        for r in calls_to(criteo_sandbox, "contact-list", "PATCH")
    ]
    assert sizes == [50_000, 50_000, 20_001]
    assert criteo_sandbox.members(segment.id) == {hex_digest(i) for i in range(120_001)}


@pytest.mark.parametrize(("count", "batch_size"), [(1, 50_000), (7, 3), (120_001, 50_000)])
def test_digest_arrays_are_sent_exactly_as_their_hex_strings(
    hook, criteo_sandbox, monkeypatch, count, batch_size
):
    """An S32 array of digests goes out byte for byte as the list of its hex forms would."""
    digests = np.frombuffer(b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(count)), "S32")
    hexes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(count)]
    payloads: list[bytes] = []
    attempt = CriteoTransport._attempt

    def recording(self, method, endpoint, params, payload, headers, budget):
        if method == "PATCH":
            payloads.append(payload)
            assert headers["Content-Type"] == "application/json"
        return attempt(self, method, endpoint, params, payload, headers, budget)

    monkeypatch.setattr(CriteoTransport, "_attempt", recording)
    from_strings = hook.create_contact_list_segment("strings")
    from_digests = hook.create_contact_list_segment("digests")
    sent_strings = hook.amend_contact_list(from_strings.id, "add", hexes, batch_size=batch_size)
    strings_payloads, payloads[:] = list(payloads), []
    sent_digests = hook.amend_contact_list(from_digests.id, "add", digests, batch_size=batch_size)
    assert payloads == strings_payloads
    assert sent_digests == sent_strings
    assert sent_digests.requests == -(-count // batch_size)
    assert criteo_sandbox.members(from_digests.id) == set(hexes)
    hook.remove_identifiers(from_digests.id, digests[1:], batch_size=batch_size)
    assert criteo_sandbox.members(from_digests.id) == {hexes[0]}


def test_an_empty_digest_array_sends_nothing(hook, criteo_sandbox):
    segment = hook.create_contact_list_segment("vip")
    assert hook.add_identifiers(segment.id, np.empty(0, dtype="S32")).requests == 0
    assert calls_to(criteo_sandbox, "contact-list", "PATCH") == []


def test_remove_wipe_and_statistics(hook, criteo_sandbox):
    segment = hook.create_contact_list_segment("vip")
    hook.add_identifiers(segment.id, [hex_digest(i) for i in range(10)] + ["not an identifier"])
    removed = hook.remove_identifiers(segment.id, [hex_digest(i) for i in range(4)])
    assert removed.valid == 4
    assert criteo_sandbox.members(segment.id) == {hex_digest(i) for i in range(4, 10)}
    stats = hook.get_contact_list_statistics(segment.id)
    assert (stats.segment_id, stats.number_of_identifiers, stats.number_of_matches) == (segment.id, 6, 6)
    hook.wipe_contact_list(segment.id)
    assert criteo_sandbox.members(segment.id) == set()
    assert hook.get_contact_list_statistics(segment.id).number_of_identifiers == 0


def test_amendment_counts_invalid_identifiers(hook):
    segment = hook.create_contact_list_segment("vip")
    result = hook.add_identifiers(segment.id, [hex_digest(1), "nope", "also nope"])
    assert (result.valid, result.invalid) == (1, 2)


def test_amendments_are_idempotent(hook, criteo_sandbox):
    segment = hook.create_contact_list_segment("vip")
    hook.add_identifiers(segment.id, [hex_digest(1), hex_digest(2)])
    hook.add_identifiers(segment.id, [hex_digest(1), hex_digest(2)])
    hook.remove_identifiers(segment.id, [hex_digest(3)])
    assert criteo_sandbox.members(segment.id) == {hex_digest(1), hex_digest(2)}


def test_an_empty_iterable_sends_nothing(hook, criteo_sandbox):
    segment = hook.create_contact_list_segment("vip")
    assert hook.add_identifiers(segment.id, iter(())).requests == 0
    assert calls_to(criteo_sandbox, "contact-list", "PATCH") == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"identifier_type": "fax"}, "identifier_type"),
        ({"identifier_type": "gum"}, "gum_caller_id"),
        ({"batch_size": 50_001}, "batch_size"),
    ],
)
def test_amendment_arguments_are_checked_before_sending(hook, criteo_sandbox, kwargs, message):
    with pytest.raises(ValueError, match=message):
        hook.add_identifiers("1", [hex_digest(1)], **kwargs)
    assert criteo_sandbox.requests == []


def test_non_numeric_segment_id_is_refused(hook):
    with pytest.raises(ValueError, match="numeric"):
        hook.wipe_contact_list("1/../../me")


def test_missing_advertiser_says_where_to_set_it(criteo_sandbox, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRITEO_DEFAULT", criteo_connection_json(criteo_sandbox.url, advertiser_id="")
    )
    with pytest.raises(CriteoConfigurationError, match="set advertiser_id"):
        CriteoHook().find_contact_list_segment("vip")


def test_client_side_limiter_spaces_calls(hook, criteo_sandbox):
    hook.transport.rate_limiter = RateLimiter(2, window=0.5)
    started = time.monotonic()
    for _ in range(3):
        hook.list_advertisers()
    # The token call and two API calls fit in the first window; the fourth call waits for the next one.
    assert time.monotonic() - started >= 0.5


def test_when_criteo_says_no_call_remains_the_hook_holds_until_reset(hook, criteo_sandbox):
    clock = FakeClock()
    hook.transport.rate_limiter = RateLimiter(1000, clock=clock, sleep=clock.sleep)
    hook.list_advertisers()
    assert hook.transport.rate_limiter.acquire() == 0
    reset = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 5)}
    criteo_sandbox.inject_fault(path="advertisers/me", headers=reset)  # a 200 with these headers
    hook.list_advertisers()
    assert [r.status for r in calls_to(criteo_sandbox, "advertisers/me")] == [200, 200]
    assert 3 < hook.transport.rate_limiter.acquire() <= 5


@pytest.mark.parametrize(
    ("configured", "remaining", "holds"), [(250, 13, True), (250, 2, True), (250, 14, False), (100, 13, True)]
)
def test_the_hook_leaves_other_workers_a_reserve_of_criteo_s_window(
    hook, criteo_sandbox, configured, remaining, holds
):
    # Criteo's count is the one every worker shares: of its 250 calls a minute, the last 13 are left to
    # the other workers' calls in flight (whatever share this worker is configured to), and this hook
    # waits for the reset.
    clock = FakeClock()
    hook.transport.rate_limiter = RateLimiter(configured, clock=clock, sleep=clock.sleep)
    headers = {"x-ratelimit-remaining": str(remaining), "x-ratelimit-reset": str(int(time.time()) + 5)}
    criteo_sandbox.inject_fault(path="advertisers/me", headers=headers)
    hook.list_advertisers()
    waited = hook.transport.rate_limiter.acquire()
    assert (3 < waited <= 5) if holds else waited == 0


def test_the_hook_paces_to_a_lower_limit_criteo_announces(hook, criteo_sandbox):
    criteo_sandbox.configure(rate_limit_per_minute=40)
    hook.list_advertisers()
    # Paced to Criteo's x-ratelimit-limit, not the configured 1000.
    assert hook.transport.rate_limiter.calls == 40


@pytest.mark.parametrize(
    "reset",
    [
        str(int(time.time() * 1000) + 3000),  # milliseconds
        str(int(time.time()) + 3600),  # an hour ahead
        "NaN",
        "1e400",
        str(int(time.time()) - 600),  # in the past
        None,  # absent
    ],
)
def test_no_reset_header_makes_the_hook_crash_or_sleep_long(hook, criteo_sandbox, reset):
    clock = FakeClock()
    hook.transport.rate_limiter = RateLimiter(1000, clock=clock, sleep=clock.sleep)
    headers = {"x-ratelimit-remaining": "0"} | ({} if reset is None else {"x-ratelimit-reset": reset})
    criteo_sandbox.inject_fault(path="advertisers/me", headers=headers)
    hook.list_advertisers()
    assert 0 <= hook.transport.rate_limiter.acquire() <= 61


def test_a_reset_in_milliseconds_is_read_as_such_not_capped(hook, criteo_sandbox):
    clock = FakeClock()
    hook.transport.rate_limiter = RateLimiter(1000, clock=clock, sleep=clock.sleep)
    in_ms = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time() * 1000) + 3000)}
    criteo_sandbox.inject_fault(path="advertisers/me", headers=in_ms)
    hook.list_advertisers()
    assert 1.5 < hook.transport.rate_limiter.acquire() <= 3


@pytest.mark.parametrize(
    "headers",
    [
        {"x-ratelimit-reset": str(int(time.time() * 1000) + 1000)},
        {"x-ratelimit-reset": "NaN"},
        {"Retry-After": "1e400"},
        {"Retry-After": "NaN"},
        {"x-ratelimit-reset": str(int(time.time()) - 100)},
    ],
)
def test_a_429_with_odd_headers_is_retried_within_the_deadline(criteo_conn, criteo_sandbox, headers):
    hook = CriteoHook(criteo_conn, retry_backoff=0.01, retry_deadline=5)
    hook.transport.rate_limiter = RateLimiter(1000)
    criteo_sandbox.inject_fault(path="advertisers/me", status=429, headers=headers)
    started = time.monotonic()
    assert hook.list_advertisers()
    assert [r.status for r in calls_to(criteo_sandbox, "advertisers/me")] == [429, 200]
    assert time.monotonic() - started < 5


def test_a_wait_past_the_deadline_fails_instead_of_sleeping(criteo_conn, criteo_sandbox):
    hook = CriteoHook(criteo_conn, retry_backoff=0.01, retry_deadline=2)
    hook.transport.rate_limiter = RateLimiter(1000)
    ahead = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 3600)}
    criteo_sandbox.inject_fault(path="advertisers/me", headers=ahead)
    hook.list_advertisers()
    started = time.monotonic()
    with pytest.raises(CriteoRateLimitError, match="past retry_deadline"):
        hook.list_advertisers()
    assert time.monotonic() - started < 1


def test_test_connection_success(hook):
    ok, message = hook.test_connection()
    assert ok, message
    assert DEFAULT_ADVERTISER_ID in message


def test_test_connection_reports_an_unavailable_advertiser(criteo_sandbox, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRITEO_DEFAULT", criteo_connection_json(criteo_sandbox.url, advertiser_id="777")
    )
    ok, message = CriteoHook().test_connection()
    assert not ok
    assert "advertiser 777 is not among" in message


def test_test_connection_reports_bad_credentials_quickly(criteo_sandbox, monkeypatch):
    conn = criteo_connection_json(criteo_sandbox.url).replace(DEFAULT_CLIENT_SECRET, "wrong-secret")
    monkeypatch.setenv("AIRFLOW_CONN_CRITEO_DEFAULT", conn)
    ok, message = CriteoHook().test_connection()
    assert not ok
    assert "status=401" in message
    assert "invalid_client" in message


def test_test_connection_mentions_missing_consent(criteo_sandbox, monkeypatch):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRITEO_DEFAULT", criteo_connection_json(criteo_sandbox.url, data_transfer_consent=False)
    )
    ok, message = CriteoHook().test_connection()
    assert ok
    assert "consent is off" in message


def test_no_secret_or_token_reaches_logs_or_errors(hook, criteo_sandbox, capfd):
    criteo_sandbox.inject_fault(path="advertisers/me", status=503, count=2)
    hook.list_advertisers()
    criteo_sandbox.expire_tokens()
    hook.list_advertisers()
    token = hook.get_access_token()
    with pytest.raises(CriteoNotFoundError) as err:
        hook.wipe_contact_list("424242")
    log = "".join(capfd.readouterr())
    assert "retrying in" in log  # the hook's log was captured
    assert "fetching a new one" in log
    for text in (log, str(err.value), repr(hook.config)):
        assert DEFAULT_CLIENT_SECRET not in text
        assert token not in text
    # Both are registered with Airflow's masker, so task logs show *** wherever they would appear.
    assert redact(f"client {DEFAULT_CLIENT_SECRET} token {token}") == "client *** token ***"


def test_a_deprecated_api_version_is_reported_once(criteo_sandbox, monkeypatch, capfd):
    monkeypatch.setenv(
        "AIRFLOW_CONN_CRITEO_DEFAULT", criteo_connection_json(criteo_sandbox.url, api_version="2026-01")
    )
    hook = CriteoHook()
    hook.list_advertisers()
    hook.list_advertisers()
    log = capfd.readouterr().out
    assert log.count("Criteo API version 2026-01 is deprecated (Deprecation: @") == 1
    assert "Sunset: Mon, 01 Feb 2027 00:00:00 GMT" in log
    assert log.count("warns: endpoint-deprecated") == 1


def test_a_current_api_version_warns_nothing(hook, capfd):
    hook.list_advertisers()
    assert "deprecated" not in capfd.readouterr().out


def test_a_failing_precondition_stops_an_amendment_before_its_next_attempt(hook, criteo_sandbox):
    """A sync that lost its lease during a retry storm sends no more retries of its amendment."""
    segment = hook.create_contact_list_segment("vip")
    criteo_sandbox.inject_fault(path="contact-list", status=503, count=5)
    checks = []

    def lease_check():
        checks.append("checked")
        if len(checks) > 1:
            raise RuntimeError("lease lost")

    with pytest.raises(RuntimeError, match="lease lost"):
        hook.add_identifiers(segment.id, [hex_digest(1)], precondition=lease_check)
    assert [r.status for r in calls_to(criteo_sandbox, "contact-list", "PATCH")] == [503]
    with pytest.raises(RuntimeError, match="lease lost"):
        hook.wipe_contact_list(segment.id, precondition=lease_check)
    assert calls_to(criteo_sandbox, "contact-list", "DELETE") == []
