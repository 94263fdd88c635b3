from __future__ import annotations

import hashlib
import json
import os
import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_criteo.client.wire import hex_identifiers, hex_json_array
from airflow_provider_criteo.identifiers.identity_link import IDENTITY_LINK_CODEC
from airflow_provider_criteo.identifiers.madid import MADID_CODEC
from airflow_provider_criteo.segments.key_files import Spilling, chunks
from airflow_provider_criteo.segments.member_sets import (
    MERGE_FAN_IN,
    HashedMembers,
    PlainMembers,
    ValueMembers,
)
from airflow_provider_criteo.segments.sorted_keys import distinct_sorted
from airflow_provider_criteo.segments.spill import SpillFolder

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
def test_hashed_members_are_the_distinct_sorted_digests(addresses):
    half = len(addresses) // 2
    members = HashedMembers()
    members.add_many(addresses[:half])
    members.add_digests(hashlib.sha256(a.encode()).digest() for a in addresses[half:])  # given hashed
    members.freeze()
    expected = np.unique(as_array([hashlib.sha256(a.encode()).digest() for a in addresses]))
    assert members.keys.tobytes() == expected.tobytes()
    assert len(members) == len(set(addresses))
    assert list(members.identifiers()) == sorted(
        hashlib.sha256(a.encode()).hexdigest() for a in set(addresses)
    )


def test_frozen_digests_do_not_share_the_collection_buffer():
    members = HashedMembers()
    members.add_many(["b@x.io", "a@x.io", "b@x.io"])
    members.freeze()
    assert members.keys.base is None or members.keys.base is not members._buffer
    members.add_many(["c@x.io"])  # the buffer is free again
    assert len(members.keys) == 2


@pytest.mark.parametrize("batches", [[["b@x.io", "a@x.io"], ["a@x.io"]], [[]]])
def test_plain_members_add_many(batches):
    members = PlainMembers()
    for batch in batches:
        members.add_many(batch)
    members.freeze()
    assert list(members.identifiers()) == sorted({a for batch in batches for a in batch})


MADIDS = st.lists(
    st.uuids().map(str) | st.sampled_from([f"{'0' * 31}1", "ffffffff-0000-0000-0000-000000000000"])
)


@given(MADIDS)
@settings(max_examples=200)
def test_madid_members_give_back_each_distinct_id_from_16_byte_keys(ids):
    ids = [str(uuid.UUID(i)) for i in ids]
    members = ValueMembers(MADID_CODEC)
    members.add_many(ids)
    members.freeze()
    assert members.keys.dtype == np.dtype("S16")
    assert sorted(members.identifiers()) == sorted(set(ids))  # trailing zero bytes survive the round trip


@given(st.lists(st.text(alphabet="AXYZabc019-_", min_size=1, max_size=128)))
@settings(max_examples=200)
def test_identity_link_members_give_back_each_distinct_id(ids):
    members = ValueMembers(IDENTITY_LINK_CODEC)
    members.add_many(ids)
    members.freeze()
    assert len(members) == len(set(ids))
    assert list(members.identifiers()) == sorted(set(ids), key=str.encode)


@given(st.lists(st.binary(min_size=16, max_size=16).map(lambda b: b.rstrip(b"\0").ljust(16, b"\0"))))
def test_distinct_sorted_works_on_any_key_width_of_eight_byte_words(keys):
    array = np.sort(np.frombuffer(b"".join(keys), dtype="S16"))
    assert distinct_sorted(array).tobytes() == np.unique(array).tobytes()


def test_more_runs_than_files_merged_at_once_are_merged_in_rounds(tmp_path):
    values = [f"user{n % 150}@example.com" for n in range(3 * MERGE_FAN_IN + 5)]
    with SpillFolder(str(tmp_path)) as spill:
        members = HashedMembers(spilling=Spilling(spill, 32))  # a run per digest
        for value in values:
            members.add_many([value])
        members.freeze()
        assert members.spilled_runs == len(values)
        raw = b"".join(part.tobytes() for part in chunks(members.keys))
        digests = [raw[start : start + 32] for start in range(0, len(raw), 32)]
        assert digests == sorted({hashlib.sha256(v.encode()).digest() for v in values})
        left = sorted(os.listdir(spill.path))
        assert [name.split("-")[-1] for name in left] == ["members.keys", "owner"]  # the runs are gone
