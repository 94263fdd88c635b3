"""The state files: their format, their checksum, where they live, and how they are written."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_criteo.exceptions import SnapshotCorruptError
from airflow_provider_criteo.sync.snapshots import (
    MAGIC,
    SnapshotKey,
    SnapshotStore,
    decode,
    decode_with_header,
    encode,
)

KEY = SnapshotKey(advertiser_id="12345", audience_id="100001")


def digests(n: int, offset: int = 0) -> np.ndarray:
    return np.unique(np.array([(i + offset).to_bytes(32, "big") for i in range(n)], dtype="S32"))


@pytest.fixture
def store(tmp_path):
    return SnapshotStore(tmp_path / "snapshots")


def file_bytes(payload: bytes, **header: object) -> bytes:
    """A file as format 1 wrote it: the checksum covered the keys only."""
    head = json.dumps({"format": 1, "sha256": hashlib.sha256(payload).hexdigest(), **header}, sort_keys=True)
    return MAGIC + len(head).to_bytes(4, "big") + head.encode() + payload


def test_files_of_format_1_are_still_read():
    adds, removes = digests(5), digests(2, offset=9)
    written_before = file_bytes(adds.tobytes() + removes.tobytes(), sections={"adds": 5, "removes": 2})
    sections = decode(written_before, "test")
    assert (sections["adds"].tobytes(), sections["removes"].tobytes()) == (adds.tobytes(), removes.tobytes())


def test_the_checksum_covers_every_byte_of_the_header_too():
    data = encode({"members": digests(3)}, encoding="sha256(normalised address)")
    tampered = data.replace(
        b'"encoding": "sha256', b'"encoding":  "sha25'
    )  # a header byte changed, the length kept
    assert len(tampered) == len(data)
    with pytest.raises(SnapshotCorruptError, match="checksum mismatch"):
        decode(tampered, "test")
    assert decode_with_header(data, "test")[1]["encoding"] == "sha256(normalised address)"


@given(st.data())
@settings(max_examples=400)
def test_any_damaged_byte_is_reported_never_read(data):
    original = encode({"members": digests(4)}, committed_at=1.0, encoding="e")
    position = data.draw(st.integers(0, len(original) - 1))
    damaged = bytearray(original)
    damaged[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises(SnapshotCorruptError, match="is damaged"):
        decode(bytes(damaged), "test")


@given(st.binary(max_size=200))
def test_arbitrary_bytes_are_a_corrupt_file(data):
    with pytest.raises(SnapshotCorruptError):
        decode(MAGIC + data, "test")


@pytest.mark.parametrize("width", [16, 128])
def test_keys_of_other_widths_round_trip(width):
    keys = np.sort(np.frombuffer(bytes(i % 251 + 1 for i in range(4 * width)), dtype=f"S{width}"))
    sections = decode(encode({"adds": keys, "removes": keys[:0]}), "test")
    assert sections["adds"].dtype == np.dtype(f"S{width}")
    assert sections["adds"].tobytes() == keys.tobytes()
    assert len(sections["removes"]) == 0
    with pytest.raises(ValueError, match="one width"):
        encode({"adds": keys, "removes": digests(1)})


def test_files_and_folders_are_private_the_root_and_its_parents_too(tmp_path):
    store = SnapshotStore(tmp_path / "criteo" / "snapshots")
    umask = os.umask(0o022)
    try:
        store.write_atomic(KEY, "v00000001.snap", encode({"members": digests(2)}))
        store.create_exclusive(KEY, "fence-000000000001.json", b"{}")
    finally:
        os.umask(umask)
    made = [tmp_path / "criteo", *(tmp_path / "criteo").rglob("*")]
    assert len(made) == 7  # criteo, snapshots, three folders of the list, two files
    for path in made:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path


def test_files_and_folders_an_old_version_left_open_are_made_private(store, tmp_path):
    folder = tmp_path / "snapshots" / "advertiser=12345" / "audience=100001" / "email-sha256"
    folder.mkdir(parents=True, mode=0o755)
    (folder / "v00000001.snap").write_bytes(encode({"members": digests(2)}))
    os.chmod(folder / "v00000001.snap", 0o644)
    store.make_private(KEY)
    assert stat.S_IMODE((folder / "v00000001.snap").stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(folder.parent.parent.stat().st_mode) == 0o700


def test_a_write_that_fails_leaves_no_temporary_file(store, tmp_path, monkeypatch):
    store.write_atomic(KEY, "v00000001.snap", b"first")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        store.write_atomic(KEY, "v00000001.snap", b"second")
    with pytest.raises(OSError, match="No space left"):
        store.create_exclusive(KEY, "v00000002.snap", b"second")
    assert sorted(p.name for p in store.folder(KEY).iterdir()) == ["v00000001.snap"]
    assert store.read(KEY, "v00000001.snap") == b"first"


def test_temporary_files_left_by_a_killed_worker_are_removed(store):
    store.write_atomic(KEY, "v00000001.snap", b"x")
    killed = store.folder(KEY) / "v00000002.snap.0123.tmp"
    killed.write_bytes(b"half")
    os.utime(killed.path, (time.time() - 3600, time.time() - 3600))
    (store.folder(KEY) / "v00000002.snap.4567.tmp").write_bytes(b"a write under way")
    assert store.remove_temporary(KEY) == 1
    assert store.names(KEY) == ["v00000001.snap", "v00000002.snap.4567.tmp"]


def test_exclusive_creation_refuses_an_existing_file(store):
    assert store.create_exclusive(KEY, "v00000001.snap", b"one")
    assert not store.create_exclusive(KEY, "v00000001.snap", b"two")
    assert store.read(KEY, "v00000001.snap") == b"one"


def test_audiences_and_lists_with_state(store):
    store.write_atomic(KEY, "v00000001.snap", b"x")
    phone = SnapshotKey("12345", "100001", "phoneNumber", "sha256")
    store.write_atomic(phone, "v00000001.snap", b"x")
    assert store.audiences("12345") == ["100001"]
    assert store.lists("12345", "100001") == [KEY, phone]
    assert store.audiences("999") == []


def test_delete_audience_removes_everything(store):
    store.write_atomic(KEY, "v00000001.snap", b"x")
    store.write_atomic(KEY, "intent-1.snap", b"x")
    assert store.delete_audience("12345", "100001") == 2
    assert store.names(KEY) == []
    assert store.delete_audience("12345", "100001") == 0


def test_from_config_reads_the_airflow_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CRITEO__SNAPSHOT_LOCATION", str(tmp_path / "elsewhere"))
    store = SnapshotStore.from_config()
    assert not store.default
    store.write_atomic(KEY, "v00000001.snap", b"x")
    assert list((tmp_path / "elsewhere").rglob("v*.snap"))
    assert SnapshotStore.from_config(str(tmp_path / "explicit")).root.path.endswith("explicit")


def test_snapshots_live_under_airflow_home_by_default(monkeypatch):
    from airflow.configuration import AIRFLOW_HOME

    monkeypatch.delenv("AIRFLOW__CRITEO__SNAPSHOT_LOCATION")
    store = SnapshotStore.from_config()
    assert store.root.path == f"{AIRFLOW_HOME}/criteo/snapshots"
    assert store.default
