from __future__ import annotations

import hashlib
import json
import time

import numpy as np
import pytest

from airflow_provider_criteo.exceptions import (
    AudienceLockedError,
    SnapshotConflictError,
    SnapshotCorruptError,
)
from airflow_provider_criteo.state import MAGIC, SnapshotKey, SnapshotStore, decode, encode

KEY = SnapshotKey(advertiser_id="12345", audience_id="100001")


def digests(n: int, offset: int = 0) -> np.ndarray:
    return np.unique(np.array([(i + offset).to_bytes(32, "big") for i in range(n)], dtype="S32"))


@pytest.fixture
def store(tmp_path):
    return SnapshotStore(tmp_path / "snapshots")


def test_no_snapshot_until_the_first_commit(store):
    assert store.latest(KEY) is None
    assert store.commit(KEY, digests(3), expected_version=None) == 1
    snapshot = store.latest(KEY)
    assert snapshot.version == 1
    assert snapshot.digests.tobytes() == digests(3).tobytes()


def test_snapshots_are_compact_binary(store, tmp_path):
    store.commit(KEY, digests(10_000), expected_version=None)
    (path,) = (tmp_path / "snapshots").rglob("v*.snap")
    assert 32 * 10_000 < path.stat().st_size < 32 * 10_000 + 512


def test_two_commits_on_one_version_cannot_both_succeed(store):
    store.commit(KEY, digests(3), expected_version=None)
    assert store.commit(KEY, digests(4), expected_version=1) == 2
    with pytest.raises(SnapshotConflictError, match="Another run committed version 2"):
        store.commit(KEY, digests(5), expected_version=1)
    assert len(store.latest(KEY).digests) == 4


def test_old_versions_are_pruned(store, tmp_path):
    for version in range(5):
        store.commit(KEY, digests(version + 1), expected_version=version or None)
    names = sorted(p.name for p in (tmp_path / "snapshots").rglob("v*.snap"))
    assert names == ["v00000004.snap", "v00000005.snap"]


def test_a_damaged_snapshot_is_never_read_as_empty(store, tmp_path):
    store.commit(KEY, digests(3), expected_version=None)
    (path,) = (tmp_path / "snapshots").rglob("v*.snap")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(SnapshotCorruptError, match="checksum mismatch"):
        store.latest(KEY)
    path.write_bytes(b"")
    with pytest.raises(SnapshotCorruptError, match="not a snapshot file"):
        store.latest(KEY)


def test_intents_are_recorded_listed_and_cleared(store):
    first = store.record_intent(KEY, digests(2), digests(1, offset=10))
    second = store.record_intent(KEY, digests(1, offset=5), digests(0))
    intents = store.intents(KEY)
    assert [i.name for i in intents] == [first, second]
    assert len(intents[0].adds) == 2
    assert len(intents[0].removes) == 1
    store.clear_intents(KEY, [first])
    assert [i.name for i in store.intents(KEY)] == [second]


def test_keys_are_separate(store):
    store.commit(KEY, digests(3), expected_version=None)
    other = SnapshotKey(advertiser_id="12345", audience_id="100002")
    assert store.latest(other) is None


def test_lock_refuses_another_owner_and_is_released(store):
    with (
        store.lock(KEY, "dag/run-1/export/0"),
        pytest.raises(AudienceLockedError, match=r"dag/run-1/export/0"),
        store.lock(KEY, "dag/run-2/export/0"),
    ):
        pass
    with store.lock(KEY, "dag/run-2/export/0"):
        pass


def test_the_same_task_instance_takes_its_lock_back(store, tmp_path):
    lock = tmp_path / "snapshots" / "advertiser=12345" / "audience=100001" / "email-sha256" / "lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"owner": "dag/run-1/export/0", "heartbeat": time.time()}))  # a killed worker
    with store.lock(KEY, "dag/run-1/export/0"):
        pass
    assert not lock.exists()


def test_an_abandoned_lock_expires(store, tmp_path):
    lock = tmp_path / "snapshots" / "advertiser=12345" / "audience=100001" / "email-sha256" / "lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(json.dumps({"owner": "dag/run-1/export/0", "heartbeat": time.time() - 600}))
    with store.lock(KEY, "dag/run-2/export/0", lease=300):
        assert json.loads(lock.read_text())["owner"] == "dag/run-2/export/0"


def test_the_heartbeat_keeps_a_long_run_s_lock_fresh(store, tmp_path):
    lock = tmp_path / "snapshots" / "advertiser=12345" / "audience=100001" / "email-sha256" / "lock"
    with store.lock(KEY, "dag/run-1/export/0", lease=0.5):
        first = json.loads(lock.read_text())["heartbeat"]
        time.sleep(0.3)
        assert json.loads(lock.read_text())["heartbeat"] > first
        with pytest.raises(AudienceLockedError), store.lock(KEY, "dag/run-2/export/0", lease=0.5):
            pass


def test_delete_audience_removes_everything(store, tmp_path):
    store.commit(KEY, digests(3), expected_version=None)
    store.record_intent(KEY, digests(1), digests(0))
    assert store.delete_audience("12345", "100001") == 2
    assert store.latest(KEY) is None
    assert store.delete_audience("12345", "100001") == 0


def test_from_config_reads_the_airflow_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__CRITEO__SNAPSHOT_LOCATION", str(tmp_path / "elsewhere"))
    store = SnapshotStore.from_config()
    store.commit(KEY, digests(1), expected_version=None)
    assert list((tmp_path / "elsewhere").rglob("v*.snap"))
    assert SnapshotStore.from_config(str(tmp_path / "explicit")).root.path.endswith("explicit")


def file_bytes(payload: bytes, **header: object) -> bytes:
    head = json.dumps({"format": 1, "sha256": hashlib.sha256(payload).hexdigest(), **header}, sort_keys=True)
    return MAGIC + len(head).to_bytes(4, "big") + head.encode() + payload


def test_the_file_format_only_gained_the_key_width():
    """Snapshots written before keys had widths (digests, no "width") read the same; new ones say 32."""
    adds, removes = digests(5), digests(2, offset=9)
    payload = adds.tobytes() + removes.tobytes()
    written_before = file_bytes(payload, sections={"adds": 5, "removes": 2}, x=1)
    assert encode({"adds": adds, "removes": removes}, x=1) == file_bytes(
        payload, sections={"adds": 5, "removes": 2}, x=1, width=32
    )
    sections = decode(written_before, "test")
    assert (sections["adds"].tobytes(), sections["removes"].tobytes()) == (adds.tobytes(), removes.tobytes())


@pytest.mark.parametrize("width", [16, 128])
def test_keys_of_other_widths_round_trip(width):
    keys = np.sort(np.frombuffer(bytes(i % 251 + 1 for i in range(4 * width)), dtype=f"S{width}"))
    sections = decode(encode({"adds": keys, "removes": keys[:0]}), "test")
    assert sections["adds"].dtype == np.dtype(f"S{width}")
    assert sections["adds"].tobytes() == keys.tobytes()
    assert len(sections["removes"]) == 0
    with pytest.raises(ValueError, match="one width"):
        encode({"adds": keys, "removes": digests(1)})


def test_forget_removes_digests_from_the_snapshot_and_intents(store):
    store.commit(KEY, digests(5), expected_version=None)
    store.record_intent(KEY, digests(3, offset=3), digests(2))
    store.forget(KEY, digests(1, offset=3), owner="dag/run/erase/-1")
    assert store.latest(KEY).digests.tobytes() == np.setdiff1d(digests(5), digests(1, offset=3)).tobytes()
    (intent,) = store.intents(KEY)
    assert intent.adds.tobytes() == digests(2, offset=4).tobytes()
    assert intent.removes.tobytes() == digests(2).tobytes()


def test_snapshots_live_under_airflow_home_by_default(monkeypatch):
    from airflow.configuration import AIRFLOW_HOME

    monkeypatch.delenv("AIRFLOW__CRITEO__SNAPSHOT_LOCATION")
    assert SnapshotStore.from_config().root.path == f"{AIRFLOW_HOME}/criteo/snapshots"
