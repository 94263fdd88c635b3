"""Drift: Criteo's own count of an audience against what its mirror state says it holds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from airflow_provider_criteo.exceptions import CriteoApiError, CriteoStateError
from airflow_provider_criteo.sync.plan import history_bounds
from airflow_provider_criteo.sync.protocol import peek
from airflow_provider_criteo.sync.snapshots import empty_digests

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_criteo.sync.list_plan import ListPlan
    from airflow_provider_criteo.sync.target import AudienceTarget


@dataclass(frozen=True)
class Drift:
    """Criteo's own count of an audience's identifiers against what its mirror state says it holds.

    :param criteo: Criteo's ``numberOfIdentifiers`` before the run.
    :param low: the fewest the state allows (committed members surely present, less those Criteo counted
        invalid when they were added); None when that is not known.
    :param high: the most the state allows (committed members and what unfinished runs may have added).
    """

    criteo: int
    low: int | None
    high: int

    @property
    def amount(self) -> int:
        """Identifiers Criteo holds beyond the state (positive), or short of it (negative); 0 in range."""
        if self.criteo > self.high:
            return self.criteo - self.high
        if self.low is not None and self.criteo < self.low:
            return self.criteo - self.low
        return 0


def measure_drift(target: AudienceTarget, plans: Sequence[ListPlan]) -> Drift | None:
    """Criteo's count of the audience against its state, before planning; None when it cannot tell.

    Every list with state counts, this run's and the others (a type no longer exported still has
    members at Criteo). Criteo has no count yet, or plain e-mails keep no state: no comparison.
    """
    if any(plan.members.keys is None for plan in plans):
        return None
    log = target.log
    try:
        count = target.hook.get_contact_list_statistics(target.audience_id).number_of_identifiers
    except CriteoApiError as err:
        log.warning("Could not read audience %s's statistics to check drift: %s", target.audience_id, err)
        return None
    if count is None:
        return None
    planned = {plan.key: (plan.snapshot, plan.intents) for plan in plans if plan.key is not None}
    store = target.store
    others = [key for key in store.lists(target.advertiser_id, target.audience_id) if key not in planned]
    for key in others:
        try:
            other = peek(store, key)
        except (CriteoStateError, FileNotFoundError):
            return None  # damaged, or a file a run removed while it was read: nothing to compare with
        planned[key] = (other.snapshot, other.intents)
    low: int | None = 0
    high = 0
    for snapshot, intents in planned.values():
        previous = snapshot.digests if snapshot is not None else empty_digests()
        surely, maybe = history_bounds(previous, intents, target.spilling)
        high += len(maybe)
        refused = snapshot.refused if snapshot is not None else 0
        low = None if low is None or refused is None else low + len(surely) - refused
    drift = Drift(count, low, high)
    if drift.amount:
        log.warning(
            "Audience %s drifted from its mirror state: Criteo counts %d identifiers, the state allows "
            "%s to %d (%+d). Criteo's counts lag behind recent uploads; if this persists, someone "
            "changed the audience outside this export, or its state was lost: run once with "
            "sync_mode='replace' (or on_drift='replace') to make it exact.",
            target.audience_id,
            count,
            "?" if low is None else low,
            high,
            drift.amount,
        )
    return drift
