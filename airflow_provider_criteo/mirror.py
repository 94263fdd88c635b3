"""The add / remove plan of a mirror export: pure set arithmetic on sorted digest arrays."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING

import numpy as np

from airflow_provider_criteo.exceptions import LargeRemovalError
from airflow_provider_criteo.state import empty_digests

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_criteo.state import Intent

DEFAULT_MAX_REMOVAL_FRACTION = 0.5


@dataclass(frozen=True)
class MirrorPlan:
    """What to send so that the audience holds exactly the current members."""

    adds: np.ndarray
    removes: np.ndarray
    unchanged: int
    #: Size of the last committed snapshot, and how many of its members are no longer current.
    previous: int
    leaving: int


def history_bounds(previous: np.ndarray, intents: Sequence[Intent]) -> tuple[np.ndarray, np.ndarray]:
    """The members surely and possibly in the audience, given the last snapshot and uncommitted runs.

    An intent is a run that may have added or removed members without committing (it crashed, or
    lost the commit race): what it may have removed is no longer sure, what it may have added is possible.
    """
    maybe_added = reduce(np.union1d, [i.adds for i in intents], empty_digests())
    maybe_removed = reduce(np.union1d, [i.removes for i in intents], empty_digests())
    return np.setdiff1d(previous, maybe_removed, assume_unique=True), np.union1d(previous, maybe_added)


def plan_mirror(current: np.ndarray, previous: np.ndarray, intents: Sequence[Intent] = ()) -> MirrorPlan:
    """Diff the current members against the audience's history (all arrays sorted, distinct digests).

    Whatever is current and not surely present is added; whatever is possibly present and not
    current is removed. Amendments are idempotent, so re-sending an uncertain change is safe.
    """
    surely_present, maybe_present = history_bounds(previous, intents)
    adds = np.setdiff1d(current, surely_present, assume_unique=True)
    removes = np.setdiff1d(maybe_present, current, assume_unique=True)
    leaving = len(previous) - int(np.isin(previous, current, assume_unique=True).sum())
    return MirrorPlan(
        adds, removes, unchanged=len(current) - len(adds), previous=len(previous), leaving=leaving
    )


def check_removal(
    leaving: int, previous: int | None, current: int, max_fraction: float, segment: str
) -> None:
    """Refuse to empty an audience, or to let more than ``max_fraction`` of its members leave in one run.

    ``previous`` is the audience's committed size, or None when it is unknown and about to be wiped;
    ``leaving`` is how many committed members are no longer in the segment.
    """
    if current == 0 and (previous is None or previous > 0):
        known = "its members" if previous is None else f"all {previous:,} members"
        problem = f"segment {segment!r} came back empty: the run would remove {known}"
    elif previous and leaving > max_fraction * previous:
        problem = (
            f"segment {segment!r} would remove {leaving:,} of {previous:,} members "
            f"({leaving / previous:.0%}, over max_removal_fraction={max_fraction:.0%})"
        )
    else:
        return
    raise LargeRemovalError(
        f"Refusing: {problem}. A broken upstream table must not wipe a live audience; nothing was sent. "
        "If the change is real, rerun with allow_large_removal=True."
    )
