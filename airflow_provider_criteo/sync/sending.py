"""Sending one member list's plan, and committing the snapshot it leaves once every batch succeeded."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from airflow_provider_criteo.segments.key_streams import union
from airflow_provider_criteo.sync.batches import amend
from airflow_provider_criteo.sync.results import EarlyResult, SyncResult

if TYPE_CHECKING:
    from airflow_provider_criteo.sync.list_plan import ListPlan
    from airflow_provider_criteo.sync.protocol import Leases
    from airflow_provider_criteo.sync.target import AudienceTarget


def record_intent(target: AudienceTarget, leases: Leases, plan: ListPlan) -> str:
    """Record what this run may change of one list, before the first request of the run."""
    assert plan.key is not None
    return leases[plan.key].record_intent(plan.adds, plan.intended_removes)


def send(
    target: AudienceTarget,
    plan: ListPlan,
    leases: Leases,
    intent: str | None,
    early: EarlyResult | None = None,
) -> SyncResult:
    """Send one list's adds and removes; commit its snapshot and retire the intents it settles.

    ``early`` is what was sent of the list while the segment was read (a new audience's adds) and the
    intents of those runs: its adds are not sent again, and the commit retires its intents.
    """
    result = SyncResult() if early is None else early.result
    kind, current, size = plan.kind, plan.members.keys, target.policy.batch_size
    send_op = functools.partial(
        amend, target, kind, result=result, batch_size=size, precondition=leases.check
    )
    if current is None:  # plain e-mails
        result.added = send_op("add", plan.members.identifiers())
        return result
    if plan.key is None or (intent is None and early is None):
        result.added = send_op("add", kind.wire_lazily(plan.adds, size))
        return result
    result.unchanged = len(current) - len(plan.adds) if plan.mirrors else 0
    if early is None:
        result.added = send_op("add", kind.wire_lazily(plan.adds, size))
    else:  # what went early went with the runs: the list gained each member once
        result.added = len(plan.adds)
        if early.identifiers != len(plan.adds):  # some went twice: Criteo counted them twice
            result.criteo_valid = result.criteo_invalid = None
    refused_now = result.criteo_invalid if result.requests else 0
    result.removed = send_op("remove", kind.wire_lazily(plan.removes, size))
    if plan.intent_only:
        return result
    # add_only leaves other runs' intents in place: what they may have removed is still uncertain.
    committed = current
    if plan.keeps_previous:
        committed = union([current, plan.previous], target.spilling, "members")
    result.snapshot_version = leases[plan.key].commit(
        committed,
        expected_version=plan.version,
        encoding=plan.encoding,
        refused=plan.refused_after(refused_now),
        own_intent=intent,
        folded=[] if plan.keeps_previous else [i.name for i in plan.intents],
        retire=[*plan.damaged, *(early.intents if early is not None else [])],
    )
    return result
