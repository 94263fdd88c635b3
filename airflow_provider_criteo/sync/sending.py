"""Sending one member list's plan, and committing the snapshot it leaves once every batch succeeded."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from airflow_provider_criteo.segments.key_streams import union
from airflow_provider_criteo.sync.batches import amend
from airflow_provider_criteo.sync.results import SyncResult

if TYPE_CHECKING:
    from airflow_provider_criteo.sync.list_plan import ListPlan
    from airflow_provider_criteo.sync.protocol import Leases
    from airflow_provider_criteo.sync.target import AudienceTarget


def record_intent(target: AudienceTarget, leases: Leases, plan: ListPlan) -> str:
    """Record what this run may change of one list, before the first request of the run."""
    assert plan.key is not None
    return leases[plan.key].record_intent(plan.adds, plan.intended_removes)


def send(
    target: AudienceTarget, plan: ListPlan, leases: Leases, intent: str | None, batch_size: int
) -> SyncResult:
    """Send one list's adds and removes; commit its snapshot and retire the intents it settles."""
    result = SyncResult()
    kind, current = plan.kind, plan.members.keys
    send_op = functools.partial(
        amend, target, kind, result=result, batch_size=batch_size, precondition=leases.check
    )
    if current is None:  # plain e-mails
        result.added = send_op("add", plan.members.identifiers())
        return result
    adds = kind.wire_lazily(plan.adds, batch_size)
    if plan.key is None or intent is None:
        result.added = send_op("add", adds)
        return result
    result.unchanged = len(current) - len(plan.adds) if plan.mirrors else 0
    result.added = send_op("add", adds)
    refused_now = result.criteo_invalid if result.requests else 0
    removes = kind.wire_lazily(plan.removes, batch_size)
    result.removed = send_op("remove", removes)
    if plan.intent_only:
        return result
    # add_only leaves other runs' intents in place: what they may have removed is still uncertain.
    committed = (
        union([current, plan.previous], target.spilling, "members") if plan.keeps_previous else current
    )
    result.snapshot_version = leases[plan.key].commit(
        committed,
        expected_version=plan.version,
        encoding=plan.encoding,
        refused=plan.refused_after(refused_now),
        own_intent=intent,
        folded=[] if plan.keeps_previous else [i.name for i in plan.intents],
        retire=plan.damaged,
    )
    return result
