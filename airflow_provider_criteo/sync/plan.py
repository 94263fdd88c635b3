"""The add / remove plan of a mirror export: pure set arithmetic on sorted digest arrays."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING

from airflow_provider_criteo.exceptions import LargeRemovalError
from airflow_provider_criteo.segments.sorted_keys import (
    isin_sorted,
    setdiff_sorted,
    union_sorted,
)
from airflow_provider_criteo.sync.snapshots import empty_digests

if TYPE_CHECKING:
    from collections.abc import Sequence

    import numpy as np

    from airflow_provider_criteo.sync.snapshots import Intent


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
    if not intents:
        return previous, previous
    maybe_added = reduce(union_sorted, [i.adds for i in intents], empty_digests(previous.dtype))
    maybe_removed = reduce(union_sorted, [i.removes for i in intents], empty_digests(previous.dtype))
    return setdiff_sorted(previous, maybe_removed), union_sorted(previous, maybe_added)


def plan_mirror(
    current: np.ndarray,
    previous: np.ndarray,
    intents: Sequence[Intent] = (),
    *,
    aliases: np.ndarray | None = None,
) -> MirrorPlan:
    """Diff the current members against the audience's history (all arrays sorted, distinct digests).

    Whatever is current and not surely present is added; whatever is possibly present and not
    current is removed. Amendments are idempotent, so re-sending an uncertain change is safe.
    ``aliases`` are the current members in the form the history was written in, when it was written in
    another: they leave the audience (to be replaced by their current form) but do not count as leaving.
    """
    surely_present, maybe_present = history_bounds(previous, intents)
    adds = setdiff_sorted(current, surely_present)
    removes = setdiff_sorted(maybe_present, current)
    if aliases is not None:
        leaving = int((~isin_sorted(previous, union_sorted(current, aliases))).sum())
    elif maybe_present is previous:
        leaving = len(removes)
    else:
        leaving = int((~isin_sorted(previous, current)).sum())
    return MirrorPlan(
        adds, removes, unchanged=len(current) - len(adds), previous=len(previous), leaving=leaving
    )


def check_removal(
    leaving: int, previous: int | None, current: int, max_fraction: float, segment: str, what: str = ""
) -> None:
    """Refuse to empty an audience, or to let more than ``max_fraction`` of its members leave in one run.

    ``previous`` is the audience's committed size, or None when it is unknown and about to be wiped;
    ``leaving`` is how many committed members are no longer in the segment; ``what`` names the
    identifier type when the audience has several.
    """
    in_list = f" (its {what} identifiers)" if what else ""
    if current == 0 and (previous is None or previous > 0):
        known = "its members" if previous is None else f"all {previous:,} members"
        problem = f"segment {segment!r} came back empty{in_list}: the run would remove {known}"
    elif previous and leaving > max_fraction * previous:
        problem = (
            f"segment {segment!r} would remove {leaving:,} of {previous:,} members{in_list} "
            f"({leaving / previous:.0%}, over max_removal_fraction={max_fraction:.0%})"
        )
    else:
        return
    raise LargeRemovalError(
        f"Refusing: {problem}. A broken upstream table must not wipe a live audience; nothing was sent. "
        "If the change is real, rerun with allow_large_removal=True."
    )
