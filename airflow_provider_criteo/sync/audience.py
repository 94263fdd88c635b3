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

import contextlib
from typing import TYPE_CHECKING

from airflow_provider_criteo.sync.early import EarlySends
from airflow_provider_criteo.sync.planning import Planner
from airflow_provider_criteo.sync.protocol import hold, peek
from airflow_provider_criteo.sync.results import AudienceResult
from airflow_provider_criteo.sync.sending import record_intent, send
from airflow_provider_criteo.sync.target import AudienceTarget

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_criteo.sync.planning import Plans
    from airflow_provider_criteo.sync.protocol import Leases
    from airflow_provider_criteo.sync.target import Forms, Members


class AudienceSync(AudienceTarget):
    """Syncs the identifier types of one audience, under one policy."""

    def preview(self, mode: str, members: Members, exists: bool) -> AudienceResult:
        """What :meth:`run` would do, reading the history but sending and writing nothing."""
        planner = Planner(self, mode)
        plans = planner.plans(members)
        drift = planner.plan_all(plans, not exists, lambda key: peek(self.store, key))
        return AudienceResult.planned(plans, drift)

    @contextlib.contextmanager
    def streaming(self, mode: str, forms: Forms) -> Iterator[EarlySends]:
        """For an audience this run created: hold its lists' leases while the segment is read, sending
        each sorted run of members as it goes to disk (:mod:`~airflow_provider_criteo.sync.early`).

        Call :meth:`run` with the sends inside, to commit under the same leases.
        """
        planner = Planner(self, mode)
        keys = [self.key(form) for form in forms if form.keeps_keys]
        with hold(self.store, keys, self.owner, starting_over=planner.starts_over) as leases:
            self.log.info(
                "Audience %s is new: its members are sent as they are read, in sorted runs.", self.audience_id
            )
            early = EarlySends(self, leases, self.policy.batch_size)
            try:
                yield early
            except BaseException:
                early.stop(cancel=True)  # the run failed: what was sent is in its intents
                raise
            early.stop()

    def run(
        self, mode: str, members: Members, created: bool, *, early: EarlySends | None = None
    ) -> AudienceResult:
        """Sync the audience to the members of each list, under fenced leases on the lists with state.

        Every request and every commit first checks that the run still holds its leases. With
        ``early`` (inside :meth:`streaming`), the runs it sent are not sent again.
        """
        planner = Planner(self, mode)
        plans = planner.plans(members)
        if early is not None:
            early.join()
            return self._run_held(planner, plans, created, early.leases, early)
        keys = [plan.key for plan in plans if plan.key is not None]
        with hold(self.store, keys, self.owner, starting_over=planner.starts_over) as leases:
            return self._run_held(planner, plans, created, leases, None)

    def _run_held(
        self, planner: Planner, plans: Plans, created: bool, leases: Leases, early: EarlySends | None
    ) -> AudienceResult:
        drift = planner.plan_all(plans, created, lambda key: leases[key].history())
        sent = {
            plan.key: early.sent(plan.kind) for plan in plans if early is not None and plan.key is not None
        }
        intents = {
            plan.key: record_intent(self, leases, plan)
            for plan in plans
            if plan.key is not None and sent.get(plan.key) is None
        }
        result = AudienceResult(drift=drift)
        if any(plan.wipe for plan in plans):
            self.log.info("Wiping audience %s before adding the segment's members.", self.audience_id)
            self.hook.wipe_contact_list(self.audience_id, precondition=leases.check)
            result.requests, result.wiped = 1, True
        for plan in plans:
            intent = intents.get(plan.key) if plan.key is not None else None
            result.by_form[plan.kind.name, plan.kind.hashing] = send(
                self, plan, leases, intent, sent.get(plan.key) if plan.key is not None else None
            )
        return result
