"""The sync protocol: fenced leases, what the state says, and how intents retire."""

from __future__ import annotations

import json
import os
import threading
import time

import numpy as np
import pytest

from airflow_provider_criteo.exceptions import (
    AudienceLockedError,
    CriteoConfigurationError,
    LeaseLostError,
    SnapshotConflictError,
    SnapshotCorruptError,
)
from airflow_provider_criteo.sync.protocol import Fence, fence_name, fence_tokens, hold, peek
from airflow_provider_criteo.sync.snapshots import SnapshotKey, SnapshotStore, encode

KEY = SnapshotKey(advertiser_id="12345", audience_id="100001")
RUN_1, RUN_2 = "dag/run-1/export/0", "dag/run-2/export/0"


def digests(n: int, offset: int = 0) -> np.ndarray:
    return np.unique(np.array([(i + offset).to_bytes(32, "big") for i in range(n)], dtype="S32"))


@pytest.fixture
def store(tmp_path):
    return SnapshotStore(tmp_path / "snapshots")


def commit(store, members, owner=RUN_1, **kwargs):
    with hold(store, [KEY], owner) as leases:
        snapshot = leases[KEY].history().snapshot
        return leases[KEY].commit(members, expected_version=snapshot.version if snapshot else None, **kwargs)


# --- snapshots ---------------------------------------------------------------------------------------


def test_no_snapshot_until_the_first_commit(store):
    assert peek(store, KEY).snapshot is None
    assert commit(store, digests(3)) == 1
    snapshot = peek(store, KEY).snapshot
    assert (snapshot.version, snapshot.digests.tobytes()) == (1, digests(3).tobytes())


def test_two_commits_on_one_version_cannot_both_succeed(store):
    commit(store, digests(3))
    with hold(store, [KEY], RUN_1) as leases:
        lease = leases[KEY]
        assert lease.commit(digests(4), expected_version=1) == 2
        with pytest.raises(SnapshotConflictError, match="Another run committed version 2"):
            lease.commit(digests(5), expected_version=1)
    assert len(peek(store, KEY).snapshot.digests) == 4


def test_old_versions_are_pruned(store):
    for version in range(5):
        commit(store, digests(version + 1))
    assert store.versions(store.names(KEY)) == [4, 5]


def test_a_deleted_newest_snapshot_is_never_replaced_by_an_older_one(store):
    commit(store, digests(3))
    commit(store, digests(4))
    store.remove(KEY, "v00000002.snap")  # a person deleted the damaged newest snapshot
    with (
        pytest.raises(SnapshotCorruptError, match=r"version 2 .* is missing \(version 1 is older\).*replace"),
        hold(store, [KEY], RUN_2) as leases,
    ):
        leases[KEY].history()
    with hold(store, [KEY], RUN_2, starting_over=True) as leases:  # sync_mode="replace" starts over
        history = leases[KEY].history()
        assert (history.snapshot, history.damaged) == (None, ("v00000002.snap",))
        assert leases[KEY].commit(digests(2), expected_version=2, retire=history.damaged) == 3
    assert peek(store, KEY).snapshot.version == 3


def test_a_damaged_snapshot_stops_a_mirror_run_and_not_a_replace(store):
    commit(store, digests(3))
    path = store.folder(KEY) / "v00000001.snap"
    path.write_bytes(path.read_bytes()[:-1])
    with (
        pytest.raises(SnapshotCorruptError, match=r"is damaged .*sync_mode='replace'"),
        hold(store, [KEY], RUN_2) as leases,
    ):
        leases[KEY].history()
    with hold(store, [KEY], RUN_2, starting_over=True) as leases:
        assert leases[KEY].history().damaged == ("v00000001.snap",)


# --- intents -------------------------------------------------------------------------------------------


def test_a_run_s_intent_is_retired_by_its_commit(store):
    with hold(store, [KEY], RUN_1) as leases:
        name = leases[KEY].record_intent(digests(2), digests(0))
        assert [i.name for i in leases[KEY].history().intents] == [name]
        leases[KEY].commit(digests(2), expected_version=None, own_intent=name)
    assert peek(store, KEY).intents == []


def test_another_run_s_intent_is_retired_by_the_second_commit_that_folds_it(store):
    with hold(store, [KEY], RUN_1) as leases:  # a run that died after recording its intent
        crashed = leases[KEY].record_intent(digests(2), digests(0))
    for expected_folds_left in (1, 0):
        with hold(store, [KEY], RUN_2) as leases:
            history = leases[KEY].history()
            assert [i.name for i in history.intents] == [crashed]
            version = history.snapshot.version if history.snapshot else None
            leases[KEY].commit(digests(2), expected_version=version, folded=[crashed])
        assert len(peek(store, KEY).intents) == expected_folds_left


def test_a_commit_that_raced_a_takeover_leaves_the_next_run_a_history_it_can_read(store):
    """The old try passed its lease check, then the retry took over, then the old try committed."""
    with hold(store, [KEY], RUN_1) as first_try:
        name = first_try[KEY].record_intent(digests(3), digests(0))
        with hold(store, [KEY], RUN_1) as retry:  # its fence still lists the first try's intent
            checked = first_try[KEY].check
            first_try[KEY].check = lambda: None  # type: ignore[method-assign]  # the check had passed
            first_try[KEY].commit(digests(3), expected_version=None, own_intent=name)
            first_try[KEY].check = checked  # type: ignore[method-assign]
            history = retry[KEY].history()  # not "intent missing": the commit names what it retired
            assert (history.snapshot.version, history.intents) == (1, [])
            assert retry[KEY].commit(digests(4), expected_version=history.version) == 2
    assert peek(store, KEY).intents == []


def test_a_deleted_intent_is_reported_not_forgotten(store):
    with hold(store, [KEY], RUN_1) as leases:
        name = leases[KEY].record_intent(digests(2), digests(1, offset=9))
    store.remove(KEY, name)  # a person deleted it after the crash
    with (
        pytest.raises(SnapshotCorruptError, match=f"Intent {name} .* is missing"),
        hold(store, [KEY], RUN_2) as leases,
    ):
        leases[KEY].history()


def test_an_intent_a_run_died_writing_down_is_still_folded(store):
    store.write_atomic(
        KEY, "intent-00000000000000000001-dead.snap", encode({"adds": digests(1), "removes": digests(0)})
    )
    with hold(store, [KEY], RUN_2) as leases:
        assert [i.name for i in leases[KEY].history().intents] == ["intent-00000000000000000001-dead.snap"]


def test_forget_removes_keys_from_the_snapshot_and_what_intents_may_have_removed(store):
    commit(store, digests(5))
    with hold(store, [KEY], RUN_1) as leases:
        leases[KEY].record_intent(digests(3, offset=3), digests(2, offset=2))
    with hold(store, [KEY], "dag/run/erase/-1") as leases:
        leases[KEY].forget(digests(1, offset=3), leases[KEY].history())
    history = peek(store, KEY)
    assert history.snapshot.digests.tobytes() == np.setdiff1d(digests(5), digests(1, offset=3)).tobytes()
    (intent,) = history.intents
    # Its adds stay: a late request of that run may still add the person, whom the next run then removes.
    assert intent.adds.tobytes() == digests(3, offset=3).tobytes()
    assert intent.removes.tobytes() == digests(1, offset=2).tobytes()


# --- leases --------------------------------------------------------------------------------------------


def test_a_live_lease_of_another_owner_refuses_and_a_released_one_lets_in(store):
    with (
        hold(store, [KEY], RUN_1),
        pytest.raises(AudienceLockedError, match=RUN_1),
        hold(store, [KEY], RUN_2),
    ):
        pass
    with hold(store, [KEY], RUN_2) as leases:
        assert leases[KEY].fence.token == 2  # the refused run took none; fencing tokens only grow


def test_the_same_task_instance_takes_its_lists_back_and_fences_its_earlier_try_out(store):
    with hold(store, [KEY], RUN_1) as first_try:
        first_try.check()
        with hold(store, [KEY], RUN_1) as retry:  # the retry of the same task instance, at once
            retry.check()
            with pytest.raises(LeaseLostError, match=r"was taken over \(lease 2; this run held lease 1\)"):
                first_try.check()


def test_a_try_fenced_out_stops_renewing_the_lock_older_versions_read(store):
    with hold(store, [KEY], RUN_1, lease=0.5) as first_try:
        with hold(store, [KEY], RUN_1, lease=0.5):
            pass  # the retry took the list over and released it
        assert "lock" not in store.names(KEY)
        time.sleep(0.3)  # the first try's heartbeat ticks
        assert "lock" not in store.names(KEY)
        with pytest.raises(LeaseLostError, match="was taken over"):
            first_try.check()


def test_an_abandoned_lease_expires(store):
    store.create_exclusive(KEY, fence_name(7), Fence(RUN_1, 7, time.time() - 600).to_bytes())
    with hold(store, [KEY], RUN_2, lease=300) as leases:
        assert leases[KEY].fence.token == 8


def test_a_heartbeat_that_cannot_be_written_stops_the_run(store, monkeypatch):
    with hold(store, [KEY], RUN_1, lease=0.5) as leases:

        def disk_full(*args, **kwargs):
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(store, "write_atomic", disk_full)
        time.sleep(0.3)
        with pytest.raises(LeaseLostError, match=r"could not be renewed .*No space left"):
            leases.check()
        monkeypatch.undo()


def test_a_lease_that_lapsed_while_the_worker_was_paused_stops_the_run(store):
    with hold(store, [KEY], RUN_1, lease=300) as leases:
        lease = leases[KEY]
        lease._stop.set()  # the worker is paused: no heartbeat
        lease._heartbeat.join()
        lease._beat -= 301
        with pytest.raises(LeaseLostError, match=r"lapsed .*paused"):
            leases.check()


def test_the_heartbeat_keeps_a_long_run_s_lease_fresh(store):
    with hold(store, [KEY], RUN_1, lease=0.5) as leases:
        first = leases[KEY].fence.heartbeat
        time.sleep(0.3)
        newest = fence_tokens(store.names(KEY))[-1]
        assert Fence.from_bytes(store.read(KEY, fence_name(newest)), "test").heartbeat > first
        with pytest.raises(AudienceLockedError), hold(store, [KEY], RUN_2, lease=0.5):
            pass
        leases.check()


def test_an_older_version_s_live_lock_keeps_this_run_out(store):
    store.write_atomic(KEY, "lock", json.dumps({"owner": "an 0.1 worker", "heartbeat": time.time()}).encode())
    with pytest.raises(AudienceLockedError, match=r"an 0.1 worker"), hold(store, [KEY], RUN_1):
        pass


def test_the_holder_writes_the_lock_older_versions_read(store):
    with hold(store, [KEY], RUN_1):
        assert json.loads(store.read(KEY, "lock"))["owner"] == RUN_1
    assert "lock" not in store.names(KEY)


def test_a_damaged_lease_record_is_damage_unless_the_run_starts_over(store):
    with hold(store, [KEY], RUN_1):
        pass
    (store.folder(KEY) / fence_name(1)).write_text('{"fence": {"owner": "x"}, "sha256": "0"}')
    with pytest.raises(SnapshotCorruptError, match=r"Lease record .* is damaged"), hold(store, [KEY], RUN_2):
        pass
    with hold(store, [KEY], RUN_2, starting_over=True) as leases:
        assert leases[KEY].fence.token == 2


def test_temporary_files_a_killed_write_left_are_removed_by_the_next_lease(store):
    left = store.folder(KEY) / "v00000001.snap.abc.tmp"
    left.write_bytes(b"half")
    os.utime(left.path, (time.time() - 3600, time.time() - 3600))
    with hold(store, [KEY], RUN_1):
        assert not [n for n in store.names(KEY) if n.endswith(".tmp")]


def test_two_runs_racing_for_one_lease_cannot_both_win(store):
    outcomes: list[object] = []
    start = threading.Barrier(8)

    def take(owner: str) -> None:
        start.wait()
        try:
            with hold(store, [KEY], owner):
                time.sleep(0.2)
                outcomes.append(owner)
        except Exception as err:
            outcomes.append(err)

    threads = [threading.Thread(target=take, args=(f"dag/run-{i}/export/0",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(isinstance(o, str) for o in outcomes) == 1
    assert all(isinstance(o, str | AudienceLockedError) for o in outcomes), outcomes


def test_a_state_file_of_another_kind_copied_over_a_snapshot_is_damage_not_a_crash(store):
    commit(store, digests(3))
    store.write_atomic(KEY, "v00000002.snap", encode({"adds": digests(1), "removes": digests(0)}))
    with (
        pytest.raises(SnapshotCorruptError, match=r"damaged \(no members section\)"),
        hold(store, [KEY], RUN_2) as leases,
    ):
        leases[KEY].history()
    with hold(store, [KEY], RUN_2, starting_over=True) as leases:
        assert leases[KEY].history().damaged == ("v00000002.snap",)


def test_an_intent_a_commit_retired_is_not_read_again_before_or_after_its_file_goes(store):
    """A try committed, then paused before deleting its intent; the retry took over in between."""
    with hold(store, [KEY], RUN_1) as first_try:
        name = first_try[KEY].record_intent(digests(3), digests(0))
        first_try[KEY].commit(digests(3), expected_version=None, own_intent=name)
    store.write_atomic(KEY, name, encode({"adds": digests(3), "removes": digests(0)}))  # not deleted yet
    with hold(store, [KEY], RUN_1) as retry:
        history = retry[KEY].history()
        assert history.intents == []  # retired by version 1, whose members account for it
        retry[KEY].commit(digests(4), expected_version=history.version)
    store.remove(KEY, name)  # the paused try resumes and deletes it
    with hold(store, [KEY], RUN_2) as leases:
        history = leases[KEY].history()  # version 2 carried version 1's retired names forward
        assert (history.snapshot.version, history.intents) == (2, [])


@pytest.mark.parametrize("seconds", ["0", "-5", "nan"])
def test_a_lease_that_is_not_a_positive_duration_is_refused(store, monkeypatch, seconds):
    monkeypatch.setenv("AIRFLOW__CRITEO__LEASE_SECONDS", seconds)
    with (
        pytest.raises(CriteoConfigurationError, match="lease_seconds must be a positive number"),
        hold(store, [KEY], RUN_1),
    ):
        pass
    assert store.names(KEY) == []
