"""Bringing one Criteo audience to a segment's members, by sync mode, with the snapshot kept in step.

- ``mirror`` sends only the difference with the audience's history (the last committed snapshot,
  plus whatever uncommitted runs may have changed), so the audience ends up holding the segment.
- ``replace`` wipes the audience, then adds every member.
- ``add_only`` adds every member and removes nothing.

Under the audience's lock, each run records its intent before its first request and commits a new
snapshot only after every batch succeeded, so a later mirror run always diffs against the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from airflow_provider_criteo.hooks.criteo import chunked
from airflow_provider_criteo.mirror import check_removal, history_bounds, plan_mirror, union_sorted
from airflow_provider_criteo.progress import Progress
from airflow_provider_criteo.resources import MAX_IDENTIFIERS_PER_REQUEST
from airflow_provider_criteo.state import empty_digests

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from airflow_provider_criteo.hooks.criteo import CriteoHook
    from airflow_provider_criteo.state import Intent, Snapshot, SnapshotKey, SnapshotStore

ON_MISSING_STATE = ("replace", "add_only")


@dataclass
class SyncResult:
    """What a sync did (or, in a dry run, would do) at Criteo."""

    added: int = 0
    removed: int = 0
    unchanged: int = 0
    requests: int = 0
    wiped: bool = False
    snapshot_version: int | None = None


@dataclass(frozen=True)
class SyncPolicy:
    """The safety settings of a sync.

    :param on_missing_state: what mirror does with an existing audience that has no snapshot:
        ``"replace"`` (wipe, then add: exact at once) or ``"add_only"`` (add; older members stay).
    :param max_removal_fraction: mirror refuses to remove more than this share of the audience.
    :param allow_large_removal: lift that guard (and the one against an empty segment).
    :param batch_size: identifiers per amendment request (Criteo takes at most 50,000).
    """

    on_missing_state: str = "replace"
    max_removal_fraction: float = 0.5
    allow_large_removal: bool = False
    batch_size: int = MAX_IDENTIFIERS_PER_REQUEST


class AudienceSync:
    """Syncs one audience. ``store`` is None for unhashed members: no snapshot is kept then.

    :param owner: holder of the audience's lock: the task instance, so that its retry takes it back.
    """

    def __init__(
        self,
        hook: CriteoHook,
        store: SnapshotStore | None,
        key: SnapshotKey,
        *,
        owner: str,
        policy: SyncPolicy,
        segment: str,
        log: Any,
    ) -> None:
        self.hook = hook
        self.store = store
        self.key = key
        self.owner = owner
        self.policy = policy
        self.segment = segment
        self.log = log

    # ------------------------------------------------------------------------------- planning

    def _history(self) -> tuple[Snapshot | None, list[Intent]]:
        if self.store is None:
            return None, []
        return self.store.latest(self.key), self.store.intents(self.key)

    def _plan(
        self, mode: str, current: np.ndarray, snapshot: Snapshot | None, intents: list[Intent], created: bool
    ) -> tuple[np.ndarray, np.ndarray, bool]:
        """What to add and remove, and whether to wipe first; raises before anything is sent."""
        if mode != "mirror":
            return current, empty_digests(), mode == "replace" and not created
        previous = snapshot.digests if snapshot is not None else empty_digests()
        plan = plan_mirror(current, previous, intents)
        unknown = snapshot is None and not intents and not created
        wipe = unknown and self.policy.on_missing_state == "replace"
        if unknown:
            self.log.warning(
                "Audience %s exists at Criteo but has no mirror snapshot (a first mirror export, or the "
                "snapshot was deleted): on_missing_state=%r.",
                self.key.audience_id,
                self.policy.on_missing_state,
            )
        if not self.policy.allow_large_removal:
            known = None if wipe else plan.previous
            check_removal(plan.leaving, known, len(current), self.policy.max_removal_fraction, self.segment)
        return plan.adds, plan.removes, wipe

    def preview(self, mode: str, current: np.ndarray | None, members: int, exists: bool) -> SyncResult:
        """What :meth:`run` would do, reading the history but sending and writing nothing."""
        if current is None:
            return SyncResult(added=members, wiped=mode == "replace" and exists)
        snapshot, intents = self._history() if exists else (None, [])
        adds, removes, wipe = self._plan(mode, current, snapshot, intents, created=not exists)
        return SyncResult(added=len(adds), removed=len(removes), unchanged=members - len(adds), wiped=wipe)

    # ------------------------------------------------------------------------------- running

    def run(
        self, mode: str, current: np.ndarray | None, identifiers: Iterable[str], created: bool
    ) -> SyncResult:
        """Sync the audience to ``current`` digests; unhashed (None), send ``identifiers`` as they are."""
        if self.store is None or current is None:
            result = SyncResult()
            if mode == "replace" and not created:
                self._wipe(result)
            result.added = self._amend("add", identifiers, result)
            return result
        with self.store.lock(self.key, self.owner):
            return self._run_tracked(self.store, mode, current, created)

    def _run_tracked(self, store: SnapshotStore, mode: str, current: np.ndarray, created: bool) -> SyncResult:
        snapshot, intents = self._history()
        if mode == "add_only" and snapshot is None and not intents and not created:
            self.log.info(
                "Audience %s has no snapshot: add_only adds, and records nothing.", self.key.audience_id
            )
            result = SyncResult()
            result.added = self._amend("add", current, result)
            return result
        adds, removes, wipe = self._plan(mode, current, snapshot, intents, created)
        previous = snapshot.digests if snapshot is not None else empty_digests()
        maybe_present = history_bounds(previous, intents)[1]
        intent = store.record_intent(self.key, adds, maybe_present if wipe else removes)
        result = SyncResult(unchanged=len(current) - len(adds) if mode == "mirror" else 0)
        if wipe:
            self._wipe(result)
        result.added = self._amend("add", adds, result)
        result.removed = self._amend("remove", removes, result)
        # add_only leaves other runs' intents in place: what they may have removed is still uncertain.
        committed = union_sorted(previous, current) if mode == "add_only" else current
        settled = [intent] if mode == "add_only" else [intent, *(i.name for i in intents)]
        result.snapshot_version = store.commit(
            self.key, committed, expected_version=snapshot.version if snapshot is not None else None
        )
        store.clear_intents(self.key, settled)
        return result

    def _wipe(self, result: SyncResult) -> None:
        self.log.info("Wiping audience %s before adding the segment's members.", self.key.audience_id)
        self.hook.wipe_contact_list(self.key.audience_id)
        result.requests += 1
        result.wiped = True

    def _amend(self, operation: str, identifiers: Iterable[str] | np.ndarray, result: SyncResult) -> int:
        """Send one operation in batches of ``batch_size``, logging progress; return the count sent.

        ``identifiers`` are strings sent as they are, or an array of digests (sent as hex by the hook).
        """
        progress = Progress(self.log, f"{operation} to audience {self.key.audience_id}", "identifiers")
        sent = 0
        size = self.policy.batch_size
        batches: Iterable[Sequence[str] | np.ndarray] = (
            (identifiers[start : start + size] for start in range(0, len(identifiers), size))
            if isinstance(identifiers, np.ndarray)
            else chunked(identifiers, size)
        )
        for number, batch in enumerate(batches, start=1):
            result.requests += self.hook.amend_contact_list(self.key.audience_id, operation, batch).requests
            sent += len(batch)
            progress.update(sent, f"batch {number}")
        return sent
