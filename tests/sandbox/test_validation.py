"""The emulator's identifier checks: the fast path for hashed uploads changes no verdict."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_criteo.sandbox import validation
from airflow_provider_criteo.sandbox.problems import ApiProblem
from airflow_provider_criteo.sandbox.validation import split_identifiers

HEX = st.integers(0, 2**256 - 1).map(lambda n: f"{n:064x}")
ALMOST_HEX = st.one_of(
    HEX.map(str.upper),
    HEX.map(lambda h: h[:-1]),
    HEX.map(lambda h: h + "0"),
    HEX.map(lambda h: h[:-2] + " 0"),
    HEX.map(lambda h: " " + h[1:]),
    HEX.map(lambda h: h[:-1] + "g"),
    HEX.map(lambda h: h[:-1] + "é"),
    HEX.map(lambda h: h[:32]),  # an MD5 digest's length
    st.sampled_from(["ann@example.com", "not-an-email", "", "+33140402290"]),
)


def by_pattern(identifier_type: str, identifiers: list) -> tuple[list[str], list[str]] | None:
    """The verdict of the type's pattern, one value at a time; None when valid e-mails mix forms."""
    accepts = validation._ACCEPTS.get(identifier_type, validation._NON_BLANK).fullmatch
    valid = [i for i in identifiers if accepts(i)]
    if identifier_type == "email" and len({"@" in i or len(i) for i in valid}) > 1:
        return None
    return valid, [i for i in identifiers if not accepts(i)]


@given(
    st.lists(HEX | ALMOST_HEX, min_size=1, max_size=30), st.sampled_from(["email", "madid", "phoneNumber"])
)
@settings(max_examples=500)
def test_split_identifiers_gives_the_pattern_s_verdict(identifiers, identifier_type):
    expected = by_pattern(identifier_type, identifiers)
    if expected is None:
        with pytest.raises(ApiProblem, match="mixes"):
            split_identifiers(identifier_type, identifiers)
    else:
        assert split_identifiers(identifier_type, identifiers) == expected


def test_a_batch_of_digests_is_valid_at_once():
    digests = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(50_000)]
    assert validation._all_sha256_hex(digests)
    assert split_identifiers("email", digests) == (digests, [])
    assert not validation._all_sha256_hex([*digests[:3], "a" * 62 + " a"])
