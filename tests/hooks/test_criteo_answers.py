"""CriteoHook against every answer Criteo's OpenAPI allows, not only the ones the emulator sends by default.

Each hand-made answer is first checked against Criteo's specification (so it is one Criteo may send),
then served by the sandbox in place of its own. The schema-minimal sandbox serves the leanest answers
of a whole flow.
"""

from __future__ import annotations

import json

import pytest

from airflow_provider_criteo.exceptions import (
    CriteoApiError,
    CriteoNotFoundError,
    CriteoResponseError,
    CriteoValidationError,
)
from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.hooks.test_criteo import TOKEN_PATH, calls_to, hex_digest
from tests.openapi_validation import validate_exchange

SEGMENTS = "/2026-07/marketing-solutions/audience-segments"


def answer(sandbox, method: str, path: str, body: dict, *, status: int = 200, **fault) -> None:
    """Serve ``body`` for the next matching call, once it is checked to be an answer Criteo may send."""
    validate_exchange(method, path, None, status, body, check_request=False)
    sandbox.inject_fault(path=path, method=method, status=status, body=json.dumps(body), **fault)


@pytest.fixture
def minimal(criteo_sandbox):
    criteo_sandbox.configure(schema_minimal=True)
    return criteo_sandbox


# --- search ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [250, 200, 0])
def test_search_without_meta_pages_until_a_short_page(hook, minimal, count):
    for i in range(count):
        minimal.state.new_segment(DEFAULT_ADVERTISER_ID, f"segment {i}", None)
    found = list(hook.search_audience_segments(advertiser_ids=[DEFAULT_ADVERTISER_ID]))
    assert [s.name for s in found] == [f"segment {i}" for i in range(count)]
    assert len(calls_to(minimal, "search")) == count // 100 + 1


def test_search_without_meta_reads_on_when_criteo_caps_the_page_size(hook, criteo_sandbox):
    pages = [[1, 2], [3, 4], [5]]  # Criteo gives 2 where 100 were asked, without saying so
    for page in pages:
        body = {"data": [{"id": str(i), "attributes": {"name": f"segment {i}"}} for i in page]}
        answer(criteo_sandbox, "POST", f"{SEGMENTS}/search", body)
    assert [s.id for s in hook.search_audience_segments()] == ["1", "2", "3", "4", "5"]
    assert len(calls_to(criteo_sandbox, "search")) == 3


def test_search_with_a_null_total_pages_until_a_short_page(hook, criteo_sandbox):
    for i in range(3):
        criteo_sandbox.state.new_segment(DEFAULT_ADVERTISER_ID, f"segment {i}", None)
    page = {"data": [{"id": "100001", "attributes": {"name": "segment 0"}}], "meta": {"totalItems": None}}
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/search", page)
    names = [s.name for s in hook.search_audience_segments(page_size=1)]
    assert names == ["segment 0", "segment 1", "segment 2"]


def test_search_that_does_not_advance_fails_rather_than_miss_segments(hook, criteo_sandbox):
    page = {"data": [{"id": "100001", "attributes": {"name": "vip"}}]}
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/search", page, count=2)
    with pytest.raises(CriteoResponseError, match="paging does not advance"):
        list(hook.search_audience_segments(page_size=1))


def test_search_answers_with_null_data_or_ids_missing(hook, criteo_sandbox):
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/search", {"data": None, "meta": None})
    assert list(hook.search_audience_segments()) == []
    page = {"data": [{"id": None, "attributes": {"name": "ghost"}}, {"id": "7", "attributes": None}]}
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/search", page)
    assert [(s.id, s.name) for s in hook.search_audience_segments()] == [("7", None)]


def test_a_found_segment_without_attributes_is_described_by_the_search(hook, minimal):
    created = hook.create_contact_list_segment("vip", description="best")
    found = hook.find_contact_list_segment("vip")
    assert (found.id, found.name, found.description) == (created.id, "vip", "best")
    assert (found.advertiser_id, found.type, found.read_only) == (DEFAULT_ADVERTISER_ID, "ContactList", None)


def test_read_only_lists_are_seen_as_such(hook, criteo_sandbox):
    segment = hook.create_contact_list_segment("partner")
    assert segment.read_only is False
    criteo_sandbox.set_read_only(segment.id)
    assert hook.find_contact_list_segment("partner").read_only is True


# --- create ---------------------------------------------------------------------------------------


def test_a_segment_created_with_its_id_only_keeps_what_was_asked(hook, minimal):
    segment = hook.create_contact_list_segment("vip", description="d")
    assert (segment.name, segment.description, segment.advertiser_id) == ("vip", "d", DEFAULT_ADVERTISER_ID)
    assert segment.id == minimal.segments()[0]["id"]


@pytest.mark.parametrize("where", ["errors", "warnings"])
def test_a_taken_name_is_found_again_wherever_criteo_reports_it(hook, criteo_sandbox, where):
    existing = hook.create_contact_list_segment("vip")
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/search", {"data": []})  # the first look misses it
    taken = {"code": "name-must-be-unique", "detail": "taken", "traceIdentifier": "t-1"}
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/create", {"data": [], where: [taken]})
    assert hook.get_or_create_contact_list_segment("vip") == (existing, False)


@pytest.mark.parametrize("status", [400, 409, 422])
def test_a_taken_name_answered_as_a_4xx_is_found_again(hook, criteo_sandbox, status):
    existing = hook.create_contact_list_segment("vip")
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/search", {"data": []})
    problem = {"type": "validation", "code": "name-must-be-unique", "instance": "/x", "traceId": None}
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/create", {"errors": [problem]}, status=status)
    assert hook.get_or_create_contact_list_segment("vip") == (existing, False)


def test_a_create_that_shows_nothing_is_checked_by_looking_again(hook, criteo_sandbox):
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/create", {"data": []}, apply=True)  # created, not shown
    segment, created = hook.get_or_create_contact_list_segment("vip")
    assert (segment.name, created) == ("vip", False)
    assert len(criteo_sandbox.segments()) == 1
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/create", {"data": None})  # not created either
    with pytest.raises(CriteoResponseError, match="no segment was created"):
        hook.get_or_create_contact_list_segment("churn")


def test_a_per_item_failure_of_create_names_its_code_and_trace(hook, criteo_sandbox):
    problem = {"code": "segment-limit-reached", "detail": "too many segments", "traceIdentifier": "t-9"}
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/create", {"data": [], "warnings": [problem]})
    with pytest.raises(CriteoApiError) as err:
        hook.create_contact_list_segment("vip")
    assert (err.value.code, err.value.trace_id) == ("segment-limit-reached", "t-9")
    assert "too many segments" in str(err.value)


# --- update and delete -----------------------------------------------------------------------------


def test_an_update_answered_with_ids_only_is_read_back(hook, minimal):
    segment = hook.create_contact_list_segment("vip")
    updated = hook.update_audience_segment(segment.id, description="tagged")
    assert (updated.id, updated.name, updated.description) == (segment.id, "vip", "tagged")


def test_an_update_answered_with_no_data_is_read_back(hook, criteo_sandbox):
    segment = hook.create_contact_list_segment("vip")
    answer(criteo_sandbox, "PATCH", SEGMENTS, {"data": []}, apply=True)
    assert hook.update_audience_segment(segment.id, name="renamed").name == "renamed"
    answer(criteo_sandbox, "PATCH", SEGMENTS, {"data": []})  # and this one was not applied
    with pytest.raises(CriteoResponseError, match="did not confirm the update"):
        hook.update_audience_segment(segment.id, name="again")


@pytest.mark.parametrize("mode", ["full", "minimal"])
def test_an_update_of_an_unknown_segment_fails_as_not_found(hook, criteo_sandbox, mode):
    criteo_sandbox.configure(schema_minimal=mode == "minimal")
    with pytest.raises(CriteoNotFoundError, match="424242"):
        hook.update_audience_segment("424242", name="x")


@pytest.mark.parametrize("mode", ["full", "minimal"])
def test_deleting_a_segment_already_gone_is_not_an_error(hook, criteo_sandbox, mode):
    criteo_sandbox.configure(schema_minimal=mode == "minimal")
    segment = hook.create_contact_list_segment("vip")
    assert hook.delete_audience_segments([segment.id, "424242"]) == [segment.id]
    assert hook.delete_audience_segments([segment.id]) == []


def test_a_delete_answered_as_a_404_for_every_segment_is_done(hook, criteo_sandbox):
    problem = {"type": "validation", "code": "segment-not-found", "instance": "/x", "traceId": "t"}
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/delete", {"errors": [problem, problem]}, status=404)
    assert hook.delete_audience_segments(["1", "2"]) == []
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/delete", {"errors": [problem]}, status=404)
    with pytest.raises(CriteoNotFoundError):  # one of two: the other may not be deleted
        hook.delete_audience_segments(["1", "2"])


def test_a_delete_criteo_does_not_confirm_is_checked(hook, criteo_sandbox):
    gone, kept = hook.create_contact_list_segment("gone"), hook.create_contact_list_segment("kept")
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/delete", {"data": []}, apply=True)  # deleted, not said
    assert hook.delete_audience_segments([gone.id]) == []
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/delete", {"data": []})  # and this one was not deleted
    with pytest.raises(CriteoResponseError, match=f"segments {kept.id}, which still exist"):
        hook.delete_audience_segments([kept.id])


def test_an_update_answer_that_does_not_show_the_change_is_read_back(hook, criteo_sandbox):
    segment = hook.create_contact_list_segment("vip")
    stale = {"data": [{"id": segment.id, "attributes": {"name": "vip", "description": "old"}}]}
    answer(criteo_sandbox, "PATCH", SEGMENTS, stale)  # not applied, and the answer shows the old one
    with pytest.raises(CriteoResponseError, match="did not confirm the update"):
        hook.update_audience_segment(segment.id, description="tagged")


def test_a_delete_refused_for_another_reason_raises(hook, criteo_sandbox):
    problem = {"code": "segment-in-use", "detail": "used by a campaign", "traceId": "t-3"}
    answer(criteo_sandbox, "POST", f"{SEGMENTS}/delete", {"data": [], "warnings": [problem]})
    with pytest.raises(CriteoApiError, match="used by a campaign"):
        hook.delete_audience_segments(["1"])


# --- contact lists ------------------------------------------------------------------------------------


def test_an_amendment_without_counts_succeeded(hook, minimal):
    segment = hook.create_contact_list_segment("vip")
    result = hook.add_identifiers(segment.id, [hex_digest(1), hex_digest(2)])
    assert (result.requests, result.valid, result.invalid) == (1, None, None)
    assert minimal.members(segment.id) == {hex_digest(1), hex_digest(2)}


def test_criteo_s_counts_and_samples_are_summed(hook, criteo_sandbox):
    segment = hook.create_contact_list_segment("vip")
    result = hook.add_identifiers(segment.id, [hex_digest(1), "nope"], batch_size=1)
    assert (result.requests, result.valid, result.invalid, result.sample_invalid) == (2, 1, 1, ("nope",))


def test_counts_some_answers_left_out_are_not_summed_as_if_complete(hook, criteo_sandbox):
    segment = hook.create_contact_list_segment("vip")
    lean = {
        "data": {"type": "ContactlistAmendment", "attributes": {"operation": "add"}},
        "errors": [],
        "warnings": [],
    }
    answer(criteo_sandbox, "PATCH", f"{SEGMENTS}/{segment.id}/contact-list", lean, apply=True)
    result = hook.add_identifiers(segment.id, [hex_digest(1), hex_digest(2)], batch_size=1)
    assert (result.requests, result.valid, result.invalid) == (2, None, None)  # one of two said 1 valid


def test_a_wipe_answer_that_is_not_criteo_s_is_not_taken_for_a_wipe(hook, criteo_sandbox):
    segment = hook.create_contact_list_segment("vip")
    criteo_sandbox.inject_fault(path="contact-list", method="DELETE", status=200, body="{}")
    with pytest.raises(CriteoResponseError, match="lacks"):
        hook.wipe_contact_list(segment.id)


@pytest.mark.parametrize(
    "body",
    [
        {"data": {"attributes": {"numberOfIdentifiers": None, "numberOfMatches": None, "matchRate": None}}},
        {"data": {"id": "1", "attributes": {}}},
        {"data": None},
        {},
    ],
)
def test_statistics_criteo_has_not_computed_are_none(hook, criteo_sandbox, body):
    answer(criteo_sandbox, "GET", f"{SEGMENTS}/1/contact-list/statistics", body)
    statistics = hook.get_contact_list_statistics("1")
    assert (statistics.number_of_identifiers, statistics.number_of_matches, statistics.match_rate) == (
        None,
        None,
        None,
    )


# --- the rest ----------------------------------------------------------------------------------------


def test_an_error_carrying_trace_identifier_names_it(hook, minimal):
    with pytest.raises(CriteoNotFoundError) as err:
        hook.get_contact_list_statistics("424242")
    assert err.value.trace_id == calls_to(minimal, "statistics")[0].trace_id


def test_advertisers_and_application_answered_leanly(hook, criteo_sandbox):
    answer(criteo_sandbox, "GET", "/2026-07/advertisers/me", {"data": [{"id": None}, {"id": "12345"}]})
    assert [(a.id, a.name) for a in hook.list_advertisers()] == [("12345", None)]
    answer(criteo_sandbox, "GET", "/2026-07/advertisers/me", {"data": None})
    assert hook.list_advertisers() == []
    answer(criteo_sandbox, "GET", "/2026-07/marketing-solutions/me", {"data": None})
    assert hook.get_application() == {}


@pytest.mark.parametrize("expires_in", [None, "soon", 0, -5, 1e400])
def test_a_token_without_a_usable_lifetime_is_reused_not_fetched_per_call(hook, criteo_sandbox, expires_in):
    issued, _ = criteo_sandbox.state.issue_token(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)
    token = {"access_token": issued, "token_type": "Bearer", "refresh_token": None}
    if expires_in is not None:
        token["expires_in"] = expires_in
    criteo_sandbox.inject_fault(path=TOKEN_PATH, status=200, body=json.dumps(token))
    for _ in range(3):
        hook.list_advertisers()
    assert len(calls_to(criteo_sandbox, TOKEN_PATH)) == 1
    assert [r.status for r in calls_to(criteo_sandbox, "advertisers/me")] == [200, 200, 200]


def test_a_taken_name_is_a_validation_error_when_nothing_else_can_be_done(hook, minimal):
    hook.create_contact_list_segment("vip")
    with pytest.raises(CriteoValidationError) as err:
        hook.create_contact_list_segment("vip")
    assert err.value.code == "name-must-be-unique"
