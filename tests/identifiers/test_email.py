from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_criteo.identifiers.email import (
    _PLAIN_EMAIL,
    MAX_LOCAL_PART_LENGTH,
    email_rejection,
    normalize_email,
    prepare_email,
    prepare_emails,
    sha256_hex,
)
from airflow_provider_criteo.identifiers.values import PreparedChunk, Rejection


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


# --- prepare_emails: a whole chunk at once, exactly what prepare_email gives each value -----------


def one_by_one(values: list) -> PreparedChunk:
    """What prepare_emails must return: prepare_email on each value, in order; digests apart by hashing."""
    prepared = [prepare_email(value) for value in values]
    normalized = [n for n, _ in prepared if n is not None]
    digests = [n for n in normalized if len(n) in (32, 64) and set(n) <= set("0123456789abcdef")]
    given: dict[str, list[bytes]] = {}
    for digest in digests:
        given.setdefault("sha256" if len(digest) == 64 else "md5", []).append(bytes.fromhex(digest))
    return PreparedChunk(
        valid=[n for n in normalized if n not in digests],
        rejected=[(i, rejection) for i, (_, rejection) in enumerate(prepared) if rejection is not None],
        given=given,
    )


MESSY_ADDRESS = st.builds(
    lambda address, before, after, upper: before + (address.upper() if upper else address) + after,
    ADDRESS | st.sampled_from(["élodie@exemple.fr", "e\u0301lodie@exemple.fr", "user@пример.рф"]),
    st.sampled_from(["", " ", "\t", "\n "]),
    st.sampled_from(["", " ", "\r\n"]),
    st.booleans(),
)
# Almost addresses, from tiny alphabets: leading, trailing and double dots, hyphens at label ends,
# empty labels, digits in the top-level domain, two @... come up often.
NEAR_ADDRESS = st.builds(
    lambda local, domain, tld: f"{local}@{domain}.{tld}",
    st.text("ab.-_+@", max_size=6),
    st.text("ab1.-_", max_size=8),
    st.text("ab1-", max_size=4),
)
RAW_VALUE = st.one_of(
    MESSY_ADDRESS,
    NEAR_ADDRESS,
    st.text(),
    st.text(alphabet="ab.@-_+ \n\x00é\u200b", max_size=30),
    st.none(),
    st.integers(),
    st.binary(max_size=20),
    MESSY_ADDRESS.map(str.encode),
    st.builds(lambda n: "a" * n + "@example.com", st.integers(55, 70)),
    st.builds(lambda n: "a@" + "b" * n + ".com", st.integers(240, 255)),
    # Hashed forms: SHA-256 (any case, padded), and MD5, SHA-1, SHA-512, or hex of other lengths.
    st.builds(
        lambda data, upper, pad: pad + (data.hex().upper() if upper else data.hex()) + pad,
        st.sampled_from([16, 20, 31, 32, 33, 64]).flatmap(lambda n: st.binary(min_size=n, max_size=n)),
        st.booleans(),
        st.sampled_from(["", " "]),
    ),
)


@given(st.lists(RAW_VALUE, max_size=40))
@settings(max_examples=1500)
def test_prepare_emails_is_prepare_email_on_each_value(values):
    assert prepare_emails(values) == one_by_one(values)


@pytest.mark.parametrize(
    "values",
    [
        [],
        ["Alice@Example.com", " bob@example.org "],
        [None, "", "not-an-email", b"\xff", 42, "x@y.zz"],
        ["a" * 64 + "@example.com", "a" * 65 + "@example.com", "élodie@exemple.fr", None],
        ["ok@example.com", "line\nbreak@example.com", b"Bytes@Example.com", None, "al..ice@example.com"],
    ],
)
def test_prepare_emails_on_typical_chunks(values):
    assert prepare_emails(values) == one_by_one(values)


def test_prepare_emails_reports_rejections_by_position_in_the_chunk():
    values = [None, "Ann@Example.com", "", b"Bob@Example.com", "nope", 7, "carl@example.com"]
    assert prepare_emails(values) == (
        ["ann@example.com", "bob@example.com", "carl@example.com"],
        [(0, Rejection.NULL), (2, Rejection.EMPTY), (4, Rejection.INVALID_FORMAT), (5, Rejection.NOT_TEXT)],
        {},
        (),
    )


def test_sha256_and_md5_digests_are_taken_as_they_are_and_other_digests_refused():
    digest = hashlib.sha256(b"ann@example.com").digest()
    md5 = hashlib.md5(b"dan@example.com").digest()
    sha1 = hashlib.sha1(b"ann@example.com").hexdigest()
    values = [
        f" {digest.hex().upper()} ",
        "Bob@Example.com",
        md5.hex().upper(),
        sha1,
        hashlib.sha512(b"x").hexdigest(),
    ]
    assert prepare_emails(values) == (
        ["bob@example.com"],
        [(3, Rejection.UNSUPPORTED_HASH), (4, Rejection.UNSUPPORTED_HASH)],
        {"sha256": [digest], "md5": [md5]},
        (),
    )


ATOM_CHARACTERS = "abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-"
ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyz0123456789"
PLAIN_ADDRESS = st.builds(
    lambda atoms, labels, tld: ".".join(atoms) + "@" + "".join(f"{label}." for label in labels) + tld,
    st.lists(st.text(ATOM_CHARACTERS, min_size=1, max_size=8), min_size=1, max_size=4),
    st.lists(
        st.builds(
            lambda runs, hyphens: hyphens.join(runs),
            st.lists(st.text(ALPHANUMERIC, min_size=1, max_size=6), min_size=1, max_size=3),
            st.sampled_from(["-", "--"]),
        ),
        min_size=1,
        max_size=3,
    ),
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=63),
)


@given(PLAIN_ADDRESS | NEAR_ADDRESS | st.text(ATOM_CHARACTERS + ".@-", max_size=30))
@settings(max_examples=2000)
def test_the_one_pass_pattern_only_vouches_for_valid_addresses(text):
    """Whatever the fast pattern accepts (within the length limits) the full checks accept too."""
    if _PLAIN_EMAIL.fullmatch(text) and len(text) <= MAX_LOCAL_PART_LENGTH:
        assert email_rejection(text) is None


@given(PLAIN_ADDRESS)
def test_the_one_pass_pattern_matches_ordinary_addresses(address):
    assert _PLAIN_EMAIL.fullmatch(address)
