from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_criteo.identifiers import Rejection, normalize_email, prepare_email, sha256_hex


@pytest.mark.parametrize(
    "value",
    [
        "alice@example.com",
        "  Alice@Example.COM \t",
        "alice+tag@mail.example.co.uk",
        "o'brien@example.ie",
        "élodie@exemple.fr",
        "user@xn--e1afmkfd.xn--p1ai",
        "user@пример.рф",
        "user@sub-domain.example.museum",
    ],
)
def test_valid_addresses(value):
    normalized, rejection = prepare_email(value)
    assert rejection is None
    assert normalized == normalize_email(value)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, Rejection.NULL),
        (42, Rejection.NOT_TEXT),
        (b"\xff\xfe", Rejection.NOT_TEXT),
        ("", Rejection.EMPTY),
        ("   ", Rejection.EMPTY),
        ("a" * 65 + "@example.com", Rejection.TOO_LONG),
        ("a@" + "b" * 250 + ".com", Rejection.TOO_LONG),
        ("ali\x00ce@example.com", Rejection.CONTROL_CHARACTERS),
        ("alice\u200b@example.com", Rejection.CONTROL_CHARACTERS),
        ("ali ce@example.com", Rejection.WHITESPACE),
        ("alice", Rejection.INVALID_FORMAT),
        ("alice@localhost", Rejection.INVALID_FORMAT),
        ("alice@@example.com", Rejection.INVALID_FORMAT),
        ("al@ice@example.com", Rejection.INVALID_FORMAT),
        (".alice@example.com", Rejection.INVALID_FORMAT),
        ("alice.@example.com", Rejection.INVALID_FORMAT),
        ("al..ice@example.com", Rejection.INVALID_FORMAT),
        ("alice@-example.com", Rejection.INVALID_FORMAT),
        ("alice@example..com", Rejection.INVALID_FORMAT),
        ("alice@example.c", Rejection.INVALID_FORMAT),
        ("alice@example.123", Rejection.INVALID_FORMAT),
        ("<alice@example.com>", Rejection.INVALID_FORMAT),
    ],
)
def test_rejections_name_their_reason(value, reason):
    assert prepare_email(value) == (None, reason)


def test_bytes_are_decoded():
    assert prepare_email(b"Bob@Example.com") == ("bob@example.com", None)


def test_case_whitespace_and_unicode_forms_give_one_address():
    decomposed = "e\u0301lodie@exemple.fr"
    composed = "\u00e9lodie@exemple.fr"
    assert normalize_email(f"  {decomposed.upper()} ") == normalize_email(composed) == composed


def test_normalising_is_idempotent():
    for value in ["  MiXeD@Example.com ", "ÉLODIE@EXEMPLE.FR", "İstanbul@example.com"]:
        once = normalize_email(value)
        assert normalize_email(once) == once


def test_sha256_hex_is_criteo_form():
    assert sha256_hex("alice@example.com") == hashlib.sha256(b"alice@example.com").hexdigest()
    assert len(sha256_hex("x@y.zz")) == 64


@given(st.text())
@settings(max_examples=2000)
def test_any_string_gives_one_canonical_address_or_a_counted_rejection(value):
    normalized, rejection = prepare_email(value)
    assert (normalized is None) != (rejection is None)
    if normalized is not None:
        assert prepare_email(normalized) == (normalized, None)  # canonical: stable under re-preparation
        assert len(sha256_hex(normalized)) == 64


@given(st.text())
def test_normalising_any_string_is_idempotent(value):
    once = normalize_email(value)
    assert normalize_email(once) == once


ADDRESS = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.from_regex(r"[a-z0-9]([a-z0-9._+-]{0,20}[a-z0-9])?", fullmatch=True).filter(lambda s: ".." not in s),
    st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True),
    st.from_regex(r"[a-z]{2,10}", fullmatch=True),
)


@given(ADDRESS, st.text(" \t\n", max_size=3), st.text(" \t\n", max_size=3), st.randoms())
def test_case_and_whitespace_variants_give_one_digest(address, before, after, random):
    variant = "".join(c.upper() if random.random() < 0.5 else c for c in address)
    assert prepare_email(address) == (address, None)
    assert sha256_hex(prepare_email(before + variant + after)[0]) == sha256_hex(address)
