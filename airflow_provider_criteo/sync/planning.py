"""Planning a run on an audience: each member list's adds, removes and wipe, decided before any request.

A wipe (``replace``, or ``mirror`` of a list without history) empties the audience for every list at
once: then every list adds all its members and removes nothing. The removal guard and the drift check
run here, so that a refusal sends nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airflow_provider_criteo.sync.drift import measure_drift
from airflow_provider_criteo.sync.list_plan import ListPlan
from airflow_provider_criteo.sync.modes import OnDrift, OnMissingState, SyncMode
from airflow_provider_criteo.sync.plan import check_removal, history_bounds, plan_mirror

if TYPE_CHECKING:
    #: The plan of every member list of one run.
    Plans = list[ListPlan]

    from airflow_provider_criteo.sync.drift import Drift
    from airflow_provider_criteo.sync.protocol import HistoryOf
    from airflow_provider_criteo.sync.target import AudienceTarget, Members


class Planner:
    """Plans the member lists of one audience in one sync mode, under one policy."""

    def __init__(self, target: AudienceTarget, mode: str) -> None:
        self.target = target
        self.mode = SyncMode(mode)
        self.policy = target.policy
        self.log = target.log

    @property
    def starts_over(self) -> bool:
        """Whether the run wipes the audience whatever its state (``replace``): damaged state is moot."""
        return self.mode is SyncMode.REPLACE

    def plans(self, members: Members) -> list[ListPlan]:
        """A plan per list taking part, with the key of its snapshot (None when it keeps none).

        An optional list (e-mails given as MD5 digests) takes part only with members or a history.
        """
        plans = [
            ListPlan(
                kind,
                group,
                None if group.keys is None else self.target.key(kind),
                self.mode,
                encoding=kind.encoding,
            )
            for kind, group in members
        ]
        return [plan for plan in plans if not plan.kind.optional or self._has_part(plan)]

    def _has_part(self, plan: ListPlan) -> bool:
        return len(plan.members) > 0 or (plan.key is not None and self.target.store.has_history(plan.key))

    def plan_all(self, plans: list[ListPlan], created: bool, history: HistoryOf) -> Drift | None:
        """Plan every list, reading its history; raises before anything is sent. Returns the drift seen."""
        for plan in plans:
            if plan.key is not None and plan.members.keys is not None and not created:
                found = history(plan.key)
                plan.snapshot, plan.intents, plan.damaged = found.snapshot, found.intents, found.damaged
                plan.version = found.version
        self._doubt_unseen_wipes(plans)
        drift = None if created or self.mode != SyncMode.MIRROR else measure_drift(self.target, plans)
        for plan in plans:
            self._plan(plan, created)
        if not self.policy.allow_large_removal:
            self._check_removals(plans)
        if drift is not None and drift.amount and self.policy.on_drift == OnDrift.REPLACE:
            self.log.warning(
                "on_drift='replace': wiping audience %s and adding the segment.", self.target.audience_id
            )
            plans[0].wipe = True
        if any(plan.wipe for plan in plans):
            for plan in plans:
                plan.add_everything()
        for plan in plans:
            plan.intended_removes = plan.removes
            if plan.wipe and plan.key is not None:  # whatever may be present is removed, by the wipe
                plan.intended_removes = history_bounds(plan.previous, plan.intents, self.target.spilling)[1]
        return drift

    def _doubt_unseen_wipes(self, plans: list[ListPlan]) -> None:
        """Doubt the snapshot of a list older versions did not know, when one of them ran after it.

        Such a version commits the lists it knows without an encoding; if it did after this list's
        snapshot (a rolling upgrade, a worker left behind), it may have wiped the audience: the snapshot
        is then what may be present, not what surely is.
        """
        for plan in plans:
            snapshot = plan.snapshot
            if snapshot is None or not plan.kind.unknown_to_older_versions:
                continue
            later = [
                other.kind.label
                for other in plans
                if other.snapshot is not None
                and other.snapshot.encoding is None
                and (other.snapshot.committed_at or 0.0) > (snapshot.committed_at or 0.0)
            ]
            if later:
                plan.doubtful = True
                self.log.warning(
                    "Audience %s: a version before 0.2 committed its %s after the %s snapshot, and may have "
                    "wiped the audience without knowing that list: this run adds all of the list's members "
                    "again (and removes who left).",
                    self.target.audience_id,
                    ", ".join(later),
                    plan.kind.label,
                )

    def _plan(self, plan: ListPlan, created: bool) -> None:
        """What to add and remove of one list, and whether to wipe first."""
        mode, audience_id = plan.mode, self.target.audience_id
        current = plan.members.keys
        if plan.key is None or current is None:
            plan.wipe = mode == SyncMode.REPLACE and not created
            return
        plan.adds, plan.removes = current, plan.no_keys()
        unknown = plan.snapshot is None and not plan.intents and not created
        if mode == SyncMode.ADD_ONLY and unknown:
            if plan.kind.optional:
                # An optional list without members or history takes no part in a run: only its intent,
                # left in place, makes a later mirror run remove what this one adds.
                plan.intent_only = True
                return
            self.log.info(
                "Audience %s has no %s snapshot: add_only adds, and records nothing.",
                audience_id,
                plan.kind.label,
            )
            plan.key = None
            return
        if mode != SyncMode.MIRROR:
            plan.wipe = mode == SyncMode.REPLACE and not created
            if mode == SyncMode.ADD_ONLY and (older := plan.older_encoding(audience_id)):
                plan.encoding = older  # nothing is removed: members of the older form stay, and say so
            return
        aliases = None
        if older := plan.older_encoding(audience_id):
            aliases = plan.members.legacy_keys
            self.log.warning(
                "Audience %s: its %s snapshot holds an older form of the identifiers (%s). This run removes "
                "them and adds their current form (%s); the removal guard counts only people who left. "
                "Values the source gives already hashed are sent as they are: hash them in the current form "
                "too, or they match nobody.",
                audience_id,
                plan.kind.label,
                older,
                plan.kind.encoding,
            )
        mirror = plan_mirror(
            current, plan.previous, plan.intents, aliases=aliases, spilling=self.target.spilling
        )
        # A doubtful snapshot's members may be gone: add every member again.
        plan.adds = current if plan.doubtful else mirror.adds
        plan.removes = mirror.removes
        plan.wipe = unknown and self.policy.on_missing_state == OnMissingState.REPLACE
        plan.guard = (mirror.leaving, None if plan.wipe else mirror.previous)
        if unknown:
            self.log.warning(
                "Audience %s exists at Criteo but has no %s mirror snapshot (a first mirror export, or the "
                "snapshot was deleted): on_missing_state=%r.",
                audience_id,
                plan.kind.label,
                self.policy.on_missing_state,
            )

    def _check_removals(self, plans: list[ListPlan]) -> None:
        """The removal guard, by identifier type: a person whose identifier changed form did not leave.

        Each type's lists are counted together (e-mails hashed here and given as MD5 digests), so that
        an address given in another form this time is not a removal, while a broken column still is.
        """
        by_type: dict[str, list[ListPlan]] = {}
        for plan in plans:
            if plan.guard is not None:
                by_type.setdefault(plan.kind.name, []).append(plan)
        for name, group in by_type.items():
            knowns = [plan.guard[1] for plan in group if plan.guard is not None]
            check_removal(
                sum(plan.guard[0] for plan in group if plan.guard is not None),
                None if None in knowns else sum(k for k in knowns if k is not None),
                sum(len(plan.members) for plan in group),
                self.policy.max_removal_fraction,
                self.target.segment,
                name if len(by_type) > 1 else "",
            )
