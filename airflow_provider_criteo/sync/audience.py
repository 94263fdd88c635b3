"""Bringing one Criteo audience to a segment's members, by sync mode, with the snapshots kept in step.

- ``mirror`` sends only the difference with the audience's history (the last committed snapshot,
  plus whatever uncommitted runs may have changed), so the audience ends up holding the segment.
- ``replace`` wipes the audience, then adds every member.
- ``add_only`` adds every member and removes nothing.

An audience may hold several member lists: identifier types (e-mails, phone numbers, mobile ad ids
...) and forms of one type (e-mails hashed with SHA-256, or given as MD5 digests), each with its own
snapshots and fenced lease (:mod:`~airflow_provider_criteo.sync.protocol`). Under all of their leases,
a run plans every list (:mod:`~airflow_provider_criteo.sync.planning`), records every list's intent
before its first request (a wipe empties the audience for every list at once, so it comes after all of
them), and commits a list's new snapshot only after every batch succeeded
(:mod:`~airflow_provider_criteo.sync.sending`), so a later mirror run always diffs against the truth.
A snapshot written in an older encoding of its keys (phone numbers hashed with their ``+``) is migrated
by an ordinary mirror run: its members are replaced by their current form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_provider_criteo.sync.modes import SyncMode
from airflow_provider_criteo.sync.planning import Planner
from airflow_provider_criteo.sync.protocol import hold, peek
from airflow_provider_criteo.sync.results import AudienceResult
from airflow_provider_criteo.sync.sending import record_intent, send
from airflow_provider_criteo.sync.target import AudienceTarget

if TYPE_CHECKING:
    from airflow_provider_criteo.sync.modes import SyncPolicy
    from airflow_provider_criteo.sync.target import Members


@dataclass(frozen=True)
class AudienceSync(AudienceTarget):
    """Syncs the identifier types of one audience, under one policy."""

    policy: SyncPolicy = field(kw_only=True)

    def preview(self, mode: str, members: Members, exists: bool) -> AudienceResult:
        """What :meth:`run` would do, reading the history but sending and writing nothing."""
        planner = Planner(self, mode, self.policy)
        plans = planner.plans(members)
        drift = planner.plan_all(plans, not exists, lambda key: peek(self.store, key))
        return AudienceResult.planned(plans, drift)

    def run(self, mode: str, members: Members, created: bool) -> AudienceResult:
        """Sync the audience to the members of each list, under fenced leases on the lists with state.

        Every request and every commit first checks that the run still holds its leases.
        """
        planner = Planner(self, mode, self.policy)
        plans = planner.plans(members)
        keys = [plan.key for plan in plans if plan.key is not None]
        with hold(self.store, keys, self.owner, starting_over=mode == SyncMode.REPLACE) as leases:
            drift = planner.plan_all(plans, created, lambda key: leases[key].history())
            intents = {plan.key: record_intent(self, leases, plan) for plan in plans if plan.key is not None}
            result = AudienceResult(drift=drift)
            if any(plan.wipe for plan in plans):
                self.log.info("Wiping audience %s before adding the segment's members.", self.audience_id)
                self.hook.wipe_contact_list(self.audience_id, precondition=leases.check)
                result.requests, result.wiped = 1, True
            for plan in plans:
                intent = intents.get(plan.key) if plan.key is not None else None
                result.by_form[plan.kind.name, plan.kind.hashing] = send(
                    self, plan, leases, intent, self.policy.batch_size
                )
            return result
