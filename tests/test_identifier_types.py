from __future__ import annotations

import hashlib
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_criteo.identifier_types import (
    IDENTIFIER_TYPES,
    check_country_code,
    identifier_type,
    prepare_identity_link,
    prepare_madid,
    prepare_phone,
)
from airflow_provider_criteo.identifiers import Rejection

SHA256 = hashlib.sha256(b"+33612345678").hexdigest()


@pytest.mark.parametrize(
    ("value", "country_code", "expected"),
    [
        ("+33 6 12 34 56 78", None, "+33612345678"),
        ("0033 (0)6-12-34-56-78".replace("(0)", ""), None, "+33612345678"),
        ("06.12.34.56.78", "33", "+33612345678"),
        ("612345678", "33", "+33612345678"),
        ("(202) 555-0123", "1", "+12025550123"),
        ("+1 202/555/0123", "44", "+12025550123"),  # an international number keeps its own code
        (b"+44 20 7946 0958", None, "+442079460958"),
        (f"  {SHA256.upper()} ", None, SHA256),  # already hashed: taken as it is
    ],
)
def test_phone_numbers_become_e164(value, country_code, expected):
    assert prepare_phone(value, country_code) == (expected, None)


@pytest.mark.parametrize(
    ("value", "country_code", "reason"),
    [
        (None, None, Rejection.NULL),
        (612345678, "33", Rejection.NOT_TEXT),
        (" ", None, Rejection.EMPTY),
        ("06 12 34 56 78", None, Rejection.NO_COUNTRY_CODE),
        ("+33 6 12", None, Rejection.INVALID_FORMAT),  # too short
        ("+33 6 12 34 56 78 90 12 34", None, Rejection.INVALID_FORMAT),  # over 15 digits
        ("+0 612345678", None, Rejection.INVALID_FORMAT),  # no country code starts with 0
        ("1-800-FLOWERS", "1", Rejection.INVALID_FORMAT),
        ("+33 6 12 34 56 78 ext. 12", None, Rejection.INVALID_FORMAT),
        ("+33\x00612345678", None, Rejection.CONTROL_CHARACTERS),
        (hashlib.md5(b"+33612345678").hexdigest(), None, Rejection.UNSUPPORTED_HASH),
    ],
)
def test_phone_rejections_name_their_reason(value, country_code, reason):
    assert prepare_phone(value, country_code) == (None, reason)


@given(st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True), st.sampled_from([" ", "-", ".", ""]))
def test_any_e164_number_survives_separators(number, separator):
    spaced = number[:3] + separator + number[3:6] + separator + number[6:]
    assert prepare_phone(spaced) == (number, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("6D92078A-8246-4BA4-AE5B-76104861E7DC", "6d92078a-8246-4ba4-ae5b-76104861e7dc"),
        (" 6d92078a82464ba4ae5b76104861e7dc\n", "6d92078a-8246-4ba4-ae5b-76104861e7dc"),
    ],
)
def test_mobile_ad_ids_become_lower_case_uuids(value, expected):
    assert prepare_madid(value) == (expected, None)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("00000000-0000-0000-0000-000000000000", Rejection.ZERO_AD_ID),  # limited ad tracking
        ("6d92078a-8246-4ba4-ae5b", Rejection.INVALID_FORMAT),
        ("not-an-id", Rejection.INVALID_FORMAT),
        (hashlib.sha256(b"6d92078a-8246-4ba4-ae5b-76104861e7dc").hexdigest(), Rejection.UNSUPPORTED_HASH),
        ("", Rejection.EMPTY),
        (None, Rejection.NULL),
    ],
)
def test_mobile_ad_id_rejections(value, reason):
    assert prepare_madid(value) == (None, reason)


RAMP_ID = "XY1005wXyWPB1SgpMUKIpzA0I3UaLEz-2lg0wFAr1PWK7FMhs_tPnZ7S8OEN8AGEpTaRzLEJsF9GrSmY"


def test_identity_links_are_sent_as_they_are():
    assert prepare_identity_link(f" {RAMP_ID}\t") == (RAMP_ID, None)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("XY" + "a" * 127, Rejection.TOO_LONG),
        ("XY10 05wX", Rejection.WHITESPACE),
        ("XY10\u200b05", Rejection.CONTROL_CHARACTERS),
        ("XYé", Rejection.INVALID_FORMAT),
        (hashlib.sha256(b"x").hexdigest(), Rejection.UNSUPPORTED_HASH),
        ("  ", Rejection.EMPTY),
    ],
)
def test_identity_link_rejections(value, reason):
    assert prepare_identity_link(value) == (None, reason)


def test_each_type_prepares_chunks_with_rejections_by_position():
    digest = hashlib.sha256(b"+33612345678").digest()
    phone = identifier_type("phoneNumber", phone_country_code="33")
    assert phone.prepare(["06 12 34 56 78", None, digest.hex(), "abc"]) == (
        ["+33612345678"],
        [(1, Rejection.NULL), (3, Rejection.INVALID_FORMAT)],
        [digest],
    )
    madid = identifier_type("madid")
    assert madid.prepare([str(uuid.UUID(int=1)), "x"]) == (
        [str(uuid.UUID(int=1))],
        [(1, Rejection.INVALID_FORMAT)],
        [],
    )


def test_identifier_types_know_how_they_are_sent_and_kept():
    kinds = {name: identifier_type(name) for name in IDENTIFIER_TYPES}
    assert {name: kind.hashing for name, kind in kinds.items()} == {
        "email": "sha256",
        "phoneNumber": "sha256",
        "madid": "none",
        "identityLink": "none",
    }
    assert identifier_type("email", hash_emails=False).hashing == "none"
    with pytest.raises(ValueError, match="gum"):
        identifier_type("gum")


@pytest.mark.parametrize("code", ["0", "033", "1234", "+33", "FR", ""])
def test_country_codes_are_calling_codes(code):
    with pytest.raises(ValueError, match="phone_country_code"):
        check_country_code(code)
