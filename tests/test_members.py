from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_criteo.members import (
    HashedMembers,
    PlainMembers,
    distinct_sorted,
    hex_identifiers,
    hex_json_array,
)

# Digests that differ in their first or last byte only, or not at all, or at random: duplicates,
# shared prefixes and trailing zero bytes (which numpy's S32 items treat specially) all come up.
NEAR_DIGEST = st.builds(
    lambda first, last: bytes([first]) + bytes(30) + bytes([last]), st.integers(0, 2), st.integers(0, 2)
)
DIGESTS = st.lists(NEAR_DIGEST | st.binary(min_size=32, max_size=32))
ADDRESSES = st.lists(st.sampled_from(["a@x.io", "b@x.io", "élodie@exemple.fr"]) | st.emails(), max_size=60)


def as_array(digests: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(digests), dtype="S32")


@given(DIGESTS)
@settings(max_examples=500)
def test_distinct_sorted_is_numpy_unique(digests):
    array = np.sort(as_array(digests))
    assert distinct_sorted(array).tobytes() == np.unique(array).tobytes()


@given(DIGESTS)
@settings(max_examples=500)
def test_hex_json_array_is_what_json_dumps_writes(digests):
    array = as_array(digests)
    expected = json.dumps([d.hex() for d in digests], separators=(",", ":")).encode()
    assert hex_json_array(array) == expected
    assert hex_json_array(array) == json.dumps(list(hex_identifiers(array)), separators=(",", ":")).encode()


def test_hex_json_array_of_a_slice_and_of_nothing():
    array = as_array([bytes(range(32)), bytes(range(1, 33)), bytes(32)])
    assert (
        hex_json_array(array[1:])
        == json.dumps([bytes(range(1, 33)).hex(), bytes(32).hex()]).replace(" ", "").encode()
    )
    assert hex_json_array(array[:0]) == b"[]"


@given(ADDRESSES)
@settings(max_examples=200)
def test_hashed_members_add_many_is_add_one_by_one(addresses):
    one_by_one, at_once = HashedMembers(), HashedMembers()
    for address in addresses:
        one_by_one.add(address)
    at_once.add_many(addresses[: len(addresses) // 2])
    at_once.add_many(addresses[len(addresses) // 2 :])
    for members in (one_by_one, at_once):
        members.freeze()
    expected = np.unique(as_array([hashlib.sha256(a.encode()).digest() for a in addresses]))
    assert at_once.digests.tobytes() == one_by_one.digests.tobytes() == expected.tobytes()
    assert len(at_once) == len(set(addresses))
    assert list(at_once.identifiers()) == sorted(
        hashlib.sha256(a.encode()).hexdigest() for a in set(addresses)
    )


def test_frozen_digests_do_not_share_the_collection_buffer():
    members = HashedMembers()
    members.add_many(["b@x.io", "a@x.io", "b@x.io"])
    members.freeze()
    assert members.digests.base is None or members.digests.base is not members._buffer
    members.add_many(["c@x.io"])  # the buffer is free again
    assert len(members.digests) == 2


@pytest.mark.parametrize("batches", [[["b@x.io", "a@x.io"], ["a@x.io"]], [[]]])
def test_plain_members_add_many(batches):
    members = PlainMembers()
    for batch in batches:
        members.add_many(batch)
    members.freeze()
    assert list(members.identifiers()) == sorted({a for batch in batches for a in batch})
