from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import pytest

from airflow_provider_criteo.exceptions import (
    AudienceLockedError,
    CriteoServerError,
    LargeRemovalError,
    SnapshotCorruptError,
)
from airflow_provider_criteo.hooks.criteo import CriteoHook
from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID
from airflow_provider_criteo.sync.protocol import ListLease, peek
from airflow_provider_criteo.sync.snapshots import SnapshotKey, SnapshotStore, encode
from tests.helpers import fail_amendments_after, segment_export, sha

if TYPE_CHECKING:
    from airflow_provider_criteo.operators.segment_export import SegmentExportOperator


def people(*numbers: int) -> list[str]:
    return [f"person{n}@example.com" for n in numbers]


def set_segment(warehouse, addresses: list[str]) -> None:
    warehouse.execute(f"DELETE FROM {warehouse.table}")
    warehouse.load([("vip", a) for a in addresses])


def mirror(warehouse, **kwargs) -> SegmentExportOperator:
    return segment_export(warehouse, **({"hook_params": {"retry_backoff": 0.01, "max_retries": 1}} | kwargs))


def audience(sandbox) -> set[str]:
    (segment,) = sandbox.segments()
    return sandbox.members(segment["id"])


def amendments(sandbox) -> list[tuple[str, int]]:
    """(operation, number of identifiers) of every contact-list amendment the sandbox received."""
    return [
        (r.body["data"]["attributes"]["operation"], len(r.body["data"]["attributes"]["identifiers"]))
        for r in sandbox.requests
        if r.method == "PATCH" and r.path.endswith("/contact-list") and r.status == 200
    ]


def test_mirror_is_the_default_and_sends_only_changes(warehouse, criteo_conn, criteo_sandbox):
    set_segment(warehouse, people(*range(10)))
    first = mirror(warehouse).execute(context={})
    assert (first["sync_mode"], first["added"], first["removed"], first["unchanged"]) == ("mirror", 10, 0, 0)
    criteo_sandbox.clear_requests()

    set_segment(warehouse, people(*range(3, 12)))  # 0, 1, 2 left; 10, 11 joined
    second = mirror(warehouse).execute(context={})
    assert (second["added"], second["removed"], second["unchanged"]) == (2, 3, 7)
    assert sorted(amendments(criteo_sandbox)) == [("add", 2), ("remove", 3)]
    assert audience(criteo_sandbox) == {sha(a) for a in people(*range(3, 12))}
    assert second["snapshot_version"] == 2


def test_an_unchanged_segment_sends_nothing(sqlite_warehouse, criteo_conn, criteo_sandbox):
    set_segment(sqlite_warehouse, people(1, 2, 3))
    mirror(sqlite_warehouse).execute(context={})
    criteo_sandbox.clear_requests()
    summary = mirror(sqlite_warehouse).execute(context={})
    assert (summary["added"], summary["removed"], summary["unchanged"], summary["requests"]) == (0, 0, 3, 0)
    assert amendments(criteo_sandbox) == []


def test_a_crash_mid_upload_then_a_retry_converges(
    sqlite_warehouse, criteo_conn, criteo_sandbox, monkeypatch
):
    set_segment(sqlite_warehouse, people(*range(20)))
    mirror(sqlite_warehouse).execute(context={})
    set_segment(sqlite_warehouse, people(*range(10, 40)))  # 10 leave, 20 join

    with monkeypatch.context() as patch:
        fail_amendments_after(
            patch, 2, CriteoServerError(method="PATCH", endpoint="contact-list", status=503)
        )
        with pytest.raises(CriteoServerError):
            mirror(sqlite_warehouse, batch_size=5).execute(context={})
    assert audience(criteo_sandbox) != {sha(a) for a in people(*range(10, 40))}  # half-synced

    # Between the crash and the retry the profiles were refreshed again: people 35..39 left.
    set_segment(sqlite_warehouse, people(*range(10, 35)))
    retry = mirror(sqlite_warehouse, batch_size=5).execute(context={})
    assert audience(criteo_sandbox) == {sha(a) for a in people(*range(10, 35))}
    assert retry["snapshot_version"] == 2
    store = SnapshotStore.from_config()
    key = SnapshotKey(DEFAULT_ADVERTISER_ID, retry["audience_id"])
    assert len(peek(store, key).intents) == 1  # the crashed run's, folded once
    assert len(peek(store, key).snapshot.digests) == 25
    mirror(sqlite_warehouse, batch_size=5).execute(context={})
    assert peek(store, key).intents == []


def test_concurrent_runs_on_one_audience(sqlite_warehouse, criteo_conn, criteo_sandbox):
    set_segment(sqlite_warehouse, people(*range(10)))
    mirror(sqlite_warehouse).execute(context={})
    set_segment(sqlite_warehouse, people(*range(3, 13)))
    criteo_sandbox.configure(latency=0.3)
    outcomes: dict[str, object] = {}

    def run(name: str) -> None:
        try:
            outcomes[name] = mirror(sqlite_warehouse, batch_size=1).execute(context={})
        except Exception as err:
            outcomes[name] = err

    threads = [threading.Thread(target=run, args=(name,)) for name in ("scheduled", "manual")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    criteo_sandbox.configure(latency=0.0)
    locked = [o for o in outcomes.values() if isinstance(o, AudienceLockedError)]
    done = [o for o in outcomes.values() if isinstance(o, dict)]
    assert (len(locked), len(done)) == (1, 1)
    assert "This run sent nothing" in str(locked[0])
    assert audience(criteo_sandbox) == {sha(a) for a in people(*range(3, 13))}
    assert done[0]["snapshot_version"] == 2


def test_a_lost_commit_race_is_healed_by_the_next_run(
    sqlite_warehouse, criteo_conn, criteo_sandbox, monkeypatch
):
    set_segment(sqlite_warehouse, people(*range(5)))
    first = mirror(sqlite_warehouse).execute(context={})
    key = SnapshotKey(DEFAULT_ADVERTISER_ID, first["audience_id"])
    store = SnapshotStore.from_config()
    set_segment(sqlite_warehouse, people(*range(2, 8)))
    commit = ListLease.commit

    def another_run_commits_first(self, members, **kwargs):
        winner = self.history().snapshot  # another run committed the next version meanwhile
        data = encode({"members": winner.digests}, committed_at=time.time(), encoding=winner.encoding)
        self.store.create_exclusive(self.key, self.store.version_name(winner.version + 1), data)
        return commit(self, members, **kwargs)

    monkeypatch.setattr(ListLease, "commit", another_run_commits_first)
    with pytest.raises(Exception, match="Another run committed version 2"):
        mirror(sqlite_warehouse).execute(context={})
    monkeypatch.setattr(ListLease, "commit", commit)
    assert len(peek(store, key).intents) == 1  # the loser's changes stay on record

    set_segment(sqlite_warehouse, people(*range(1, 6)))
    mirror(sqlite_warehouse).execute(context={})
    assert audience(criteo_sandbox) == {sha(a) for a in people(*range(1, 6))}
    assert len(peek(store, key).intents) == 1  # folded once: kept, in case its run were still sending
    mirror(sqlite_warehouse).execute(context={})
    assert peek(store, key).intents == []  # folded twice: retired


def test_large_removal_is_refused_and_can_be_lifted(sqlite_warehouse, criteo_conn, criteo_sandbox):
    set_segment(sqlite_warehouse, people(*range(10)))
    mirror(sqlite_warehouse).execute(context={})
    criteo_sandbox.clear_requests()
    set_segment(sqlite_warehouse, people(0, 1, 2, 3))
    with pytest.raises(LargeRemovalError, match="would remove 6 of 10 members"):
        mirror(sqlite_warehouse).execute(context={})
    assert amendments(criteo_sandbox) == []
    summary = mirror(sqlite_warehouse, allow_large_removal=True).execute(context={})
    assert summary["removed"] == 6
    assert audience(criteo_sandbox) == {sha(a) for a in people(0, 1, 2, 3)}


def test_an_empty_segment_never_wipes_a_live_audience(sqlite_warehouse, criteo_conn, criteo_sandbox):
    set_segment(sqlite_warehouse, people(1, 2))
    mirror(sqlite_warehouse).execute(context={})
    set_segment(sqlite_warehouse, [])
    with pytest.raises(LargeRemovalError, match="came back empty"):
        mirror(sqlite_warehouse, max_removal_fraction=1.0).execute(context={})
    assert audience(criteo_sandbox) == {sha(a) for a in people(1, 2)}


def test_the_removal_threshold_is_configurable(sqlite_warehouse, criteo_conn, criteo_sandbox):
    set_segment(sqlite_warehouse, people(*range(10)))
    mirror(sqlite_warehouse).execute(context={})
    set_segment(sqlite_warehouse, people(*range(8)))
    with pytest.raises(LargeRemovalError, match="over max_removal_fraction=10%"):
        mirror(sqlite_warehouse, max_removal_fraction=0.1).execute(context={})


@pytest.mark.parametrize(("on_missing_state", "kept"), [("replace", False), ("add_only", True)])
def test_an_existing_audience_without_snapshot(
    sqlite_warehouse, criteo_conn, criteo_sandbox, on_missing_state, kept
):
    hook = CriteoHook(criteo_conn)
    existing = hook.create_contact_list_segment("vip")
    hook.add_identifiers(existing.id, [sha("colleague@example.com")])
    set_segment(sqlite_warehouse, people(1, 2))
    summary = mirror(
        sqlite_warehouse, on_missing_state=on_missing_state, adopt_existing_audience=True
    ).execute(context={})
    expected = {sha(a) for a in people(1, 2)} | ({sha("colleague@example.com")} if kept else set())
    assert criteo_sandbox.members(existing.id) == expected
    assert summary["audience_wiped"] is not kept
    # From now on the audience is tracked: the next run is a plain diff.
    set_segment(sqlite_warehouse, people(2, 3))
    again = mirror(sqlite_warehouse).execute(context={})
    assert (again["added"], again["removed"], again["audience_wiped"]) == (1, 1, False)


def test_a_damaged_snapshot_stops_the_run_before_anything_is_sent(
    sqlite_warehouse, criteo_conn, criteo_sandbox, snapshot_location
):
    set_segment(sqlite_warehouse, people(1, 2))
    mirror(sqlite_warehouse).execute(context={})
    (path,) = snapshot_location.rglob("v*.snap")
    path.write_bytes(path.read_bytes()[:-5])
    criteo_sandbox.clear_requests()
    with pytest.raises(SnapshotCorruptError):
        mirror(sqlite_warehouse).execute(context={})
    assert amendments(criteo_sandbox) == []


def test_mirror_dry_run_reports_the_diff_and_changes_nothing(sqlite_warehouse, criteo_conn, criteo_sandbox):
    set_segment(sqlite_warehouse, people(1, 2, 3))
    mirror(sqlite_warehouse).execute(context={})
    set_segment(sqlite_warehouse, people(2, 3, 4, 5))
    criteo_sandbox.clear_requests()
    summary = mirror(sqlite_warehouse, dry_run=True).execute(context={})
    assert (summary["added"], summary["removed"], summary["unchanged"]) == (2, 1, 2)
    assert amendments(criteo_sandbox) == []
    assert audience(criteo_sandbox) == {sha(a) for a in people(1, 2, 3)}
    assert mirror(sqlite_warehouse).execute(context={})["snapshot_version"] == 2


def test_replace_and_add_only_keep_the_snapshot_true(sqlite_warehouse, criteo_conn, criteo_sandbox):
    set_segment(sqlite_warehouse, people(1, 2))
    mirror(sqlite_warehouse).execute(context={})
    set_segment(sqlite_warehouse, people(3))
    mirror(sqlite_warehouse, sync_mode="add_only").execute(context={})  # audience: 1, 2, 3
    set_segment(sqlite_warehouse, people(2, 3))
    summary = mirror(sqlite_warehouse).execute(context={})
    assert (summary["added"], summary["removed"]) == (0, 1)
    assert audience(criteo_sandbox) == {sha(a) for a in people(2, 3)}
    set_segment(sqlite_warehouse, people(4))
    mirror(sqlite_warehouse, sync_mode="replace", allow_large_removal=True).execute(context={})
    set_segment(sqlite_warehouse, people(4, 5))
    summary = mirror(sqlite_warehouse).execute(context={})
    assert (summary["added"], summary["removed"]) == (1, 0)
    assert audience(criteo_sandbox) == {sha(a) for a in people(4, 5)}


def test_mirror_needs_hashing(sqlite_warehouse):
    with pytest.raises(ValueError, match="mirror' needs hash_emails=True"):
        mirror(sqlite_warehouse, hash_emails=False)


def test_one_percent_churn_of_a_large_segment_sends_two_percent(
    sqlite_warehouse, criteo_conn, criteo_sandbox
):
    n = 200_000
    set_segment(sqlite_warehouse, [f"p{i}@example.com" for i in range(n)])
    criteo_sandbox.configure(record_bodies=False)
    mirror(sqlite_warehouse).execute(context={})
    churn = n // 100
    set_segment(sqlite_warehouse, [f"p{i}@example.com" for i in range(churn, n + churn)])
    criteo_sandbox.configure(record_bodies=True)
    criteo_sandbox.clear_requests()
    summary = mirror(sqlite_warehouse).execute(context={})
    assert (summary["added"], summary["removed"], summary["unchanged"]) == (churn, churn, n - churn)
    assert sum(count for _, count in amendments(criteo_sandbox)) == 2 * churn
    assert len(audience(criteo_sandbox)) == n
