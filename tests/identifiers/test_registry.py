from __future__ import annotations

import hashlib
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_criteo.identifiers.identity_link import prepare_identity_link
from airflow_provider_criteo.identifiers.madid import prepare_madid
from airflow_provider_criteo.identifiers.phone import phone_region, prepare_phone
from airflow_provider_criteo.identifiers.registry import IDENTIFIER_TYPES, identifier_type
from airflow_provider_criteo.identifiers.values import Rejection

SHA256 = hashlib.sha256(b"33612345678").hexdigest()


@pytest.mark.parametrize(
    ("value", "expected_digest"),
    [
        # Criteo's own examples of its hashed phone number (help center, OneTag "Pass phone numbers").
        ("+33 1 40 40 22 90", "fda66831d0cb0eb4bffb21bc795308d69921c211c57be0ae15702071e3b9e988"),
        ("+1 (234) 567-8910", "63640264849a87c90356129d99ea165e37aa5fabc1fea46906df1a7ca50db492"),
    ],
)
def test_criteo_hashed_phone_number_vectors(value, expected_digest):
    digits, rejection = prepare_phone(value)
    assert rejection is None
    assert hashlib.sha256(digits.encode()).hexdigest() == expected_digest


@pytest.mark.parametrize(
    ("value", "region", "expected"),
    [
        ("+33 6 12 34 56 78", None, "33612345678"),
        ("0033 6-12-34-56-78", None, "33612345678"),  # 00 international prefix
        ("0033 1 40 40 22 90", "US", "33140402290"),  # 00 even where the region's prefix is 011
        ("011 33 1 40 40 22 90", "US", "33140402290"),  # the region's own international prefix
        # 00 where the region's prefix is another, and national readings would be possible but invalid.
        ("0033 1 40 40 22 90", "JP", "33140402290"),
        ("0033 1 40 40 22 90", "AU", "33140402290"),
        ("0044 20 7123 4567", "JP", "442071234567"),
        ("001 234 567 8910", "ID", "12345678910"),
        ("0011 61 2 9876 5432", "AU", "61298765432"),  # Australia's own 0011
        ("06.12.34.56.78", "FR", "33612345678"),  # national: the trunk 0 gives way to the country code
        ("612345678", "FR", "33612345678"),
        # A country code written without + is recognised, not prefixed twice (was +3333140402292).
        ("33 1 40 40 22 92", "FR", "33140402292"),
        ("44 20 7123 4567", "GB", "442071234567"),  # was +44442071234567
        ("+44 (0)20 7123 4567", None, "442071234567"),  # (0) trunk prefix after the country code
        ("0044 (0)20 7123 4567", None, "442071234567"),
        ("+33 0 1 40 40 22 90", None, "33140402290"),  # no trunk 0 right after the country code
        ("(202) 555-0123", "US", "12025550123"),
        ("+1 202/555/0123", "GB", "12025550123"),  # an international number keeps its own code
        ("+39 06 1234 5678", None, "390612345678"),  # Italy keeps its leading 0
        ("+81-12-3456-7891", None, "811234567891"),  # possible, range unknown to libphonenumber: sent
        (b"+44 20 7946 0958", None, "442079460958"),
        ("".join(chr(0xFF10 + int(d)) for d in "33140402290"), "FR", "33140402290"),  # full-width digits
        (f"  {SHA256.upper()} ", None, SHA256),  # already hashed: taken as it is
    ],
)
def test_phone_numbers_become_e164_digits(value, region, expected):
    assert prepare_phone(value, region) == (expected, None)


@pytest.mark.parametrize(
    ("value", "region", "reason"),
    [
        (None, None, Rejection.NULL),
        (612345678, "FR", Rejection.NOT_TEXT),
        (" ", None, Rejection.EMPTY),
        ("06 12 34 56 78", None, Rejection.NO_COUNTRY_CODE),
        ("+33 6 12", None, Rejection.TOO_SHORT),
        ("123", "FR", Rejection.TOO_SHORT),
        ("+33 6 12 34 56 78 90 12 34", None, Rejection.TOO_LONG),  # over 15 digits
        ("+999 612345678", None, Rejection.INVALID_COUNTRY_CODE),
        ("+0 612345678", None, Rejection.INVALID_COUNTRY_CODE),
        ("1-800-FLOWERS", "US", Rejection.INVALID_FORMAT),  # letters: not a number to match
        ("+33 6 12 34 56 78 ext. 12", None, Rejection.INVALID_FORMAT),
        ("+33 6 12 34 56 78 #12", None, Rejection.EXTENSION),
        ("+33\x00612345678", None, Rejection.CONTROL_CHARACTERS),
        (hashlib.md5(b"33612345678").hexdigest(), None, Rejection.UNSUPPORTED_HASH),
    ],
)
def test_phone_rejections_name_their_reason(value, region, reason):
    assert prepare_phone(value, region) == (None, reason)


@given(st.from_regex(r"\+33[67][0-9]{8}", fullmatch=True), st.sampled_from([" ", "-", ".", ""]))
def test_any_french_mobile_survives_separators(number, separator):
    spaced = number[:3] + separator + number[3:6] + separator + number[6:]
    assert prepare_phone(spaced) == (number[1:], None)
    assert prepare_phone("0" + spaced[3:], "FR") == (number[1:], None)


@pytest.mark.parametrize(
    ("region", "country_code", "expected"),
    [
        ("FR", None, "FR"),
        ("gb", None, "GB"),
        (None, "33", "FR"),
        (None, "1", "US"),
        (None, "44", "GB"),
        (None, None, None),
    ],
)
def test_phone_region_from_either_setting(region, country_code, expected):
    assert phone_region(region, country_code) == expected


@pytest.mark.parametrize("code", ["0", "033", "1234", "+33", "FR", "", "999"])
def test_country_codes_are_calling_codes(code):
    with pytest.raises(ValueError, match="phone_country_code"):
        phone_region(country_code=code)


@pytest.mark.parametrize("region", ["FRA", "33", "", "XX", "001"])
def test_regions_are_iso_3166_codes(region):
    with pytest.raises(ValueError, match="phone_region"):
        phone_region(region)


def test_one_phone_setting_at_a_time():
    with pytest.raises(ValueError, match="not both"):
        phone_region("FR", "33")


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
    digest = hashlib.sha256(b"33612345678").digest()
    phone = identifier_type("phoneNumber", phone_region="FR")
    assert phone.prepare(["06 12 34 56 78", None, digest.hex(), "abc"]) == (
        ["33612345678"],
        [(1, Rejection.NULL), (3, Rejection.INVALID_FORMAT)],
        {"sha256": [digest]},
        ["+33612345678"],  # the form version 0.1 sent it in
    )
    madid = identifier_type("madid")
    assert madid.prepare([str(uuid.UUID(int=1)), "x"]) == (
        [str(uuid.UUID(int=1))],
        [(1, Rejection.INVALID_FORMAT)],
        {},
        [],
    )


def test_identifier_types_know_their_member_lists():
    kinds = {name: identifier_type(name) for name in IDENTIFIER_TYPES}
    assert {name: [form.hashing for form in kind.forms] for name, kind in kinds.items()} == {
        "email": ["sha256", "md5"],  # e-mails given as MD5 digests are a list of their own
        "phoneNumber": ["sha256"],
        "madid": ["none"],
        "identityLink": ["none"],
    }
    assert [form.hashing for form in identifier_type("email", hash_emails=False).forms] == ["none"]
    with pytest.raises(ValueError, match="gum"):
        identifier_type("gum")


def test_phone_numbers_keep_the_form_earlier_versions_sent_them_in():
    kind = identifier_type("phoneNumber", phone_region="FR")
    raw = ["06 12 34 56 78", "+33 (0)6 12 34 56 79", "33 6 12 34 56 80", "+33 6", SHA256]
    prepared = kind.prepare(raw)
    assert prepared.valid == ["33612345678", "33612345679", "33612345680"]
    # What 0.1's hand-written rules made of the same values, (0) and a doubled country code included.
    assert list(prepared.legacy) == ["+33612345678", "+330612345679", "+3333612345680"]
    members = kind.forms[0].new_members()
    members.add_many(prepared.valid)
    members.add_legacy(prepared.legacy)
    members.freeze()
    assert members.legacy_keys.tobytes() == b"".join(
        sorted(hashlib.sha256(v.encode()).digest() for v in prepared.legacy)
    )
