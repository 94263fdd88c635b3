"""The add / remove plan of a mirror export: pure set arithmetic on sorted keys, in memory or on disk."""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from typing import TYPE_CHECKING

import numpy as np

from airflow_provider_criteo.exceptions import LargeRemovalError
from airflow_provider_criteo.segments.key_files import KeyWriter, chunks, dtype_of
from airflow_provider_criteo.segments.key_streams import windows
from airflow_provider_criteo.segments.sorted_keys import (
    isin_sorted,
    setdiff_sorted,
    union_sorted,
)
from airflow_provider_criteo.sync.snapshots import empty_digests

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from airflow_provider_criteo.segments.key_files import Keys, Spilling
    from airflow_provider_criteo.sync.snapshots import Intent


@dataclass(frozen=True)
class MirrorPlan:
    """What to send so that the audience holds exactly the current members."""

    adds: Keys
    removes: Keys
    unchanged: int
    #: Size of the last committed snapshot, and how many of its members are no longer current.
    previous: int
    leaving: int


def history_bounds(
    previous: Keys, intents: Sequence[Intent], spilling: Spilling | None = None
) -> tuple[Keys, Keys]:
    """The members surely and possibly in the audience, given the last snapshot and uncommitted runs.

    An intent is a run that may have added or removed members without committing (it crashed, or
    lost the commit race): what it may have removed is no longer sure, what it may have added is possible.
    """
    if not intents:
        return previous, previous
    dtype = dtype_of(previous)
    spilling = _on_disk(spilling, previous, *(keys for i in intents for keys in (i.adds, i.removes)))
    surely, maybe = KeyWriter(dtype, spilling, "surely"), KeyWriter(dtype, spilling, "maybe")
    for window in windows(_streams(previous, intents), dtype):
        surely_part, maybe_part = _bounds(window[0], window[1:], dtype)
        surely.write(surely_part)
        maybe.write(maybe_part)
    return surely.done(), maybe.done()


def plan_mirror(
    current: Keys,
    previous: Keys,
    intents: Sequence[Intent] = (),
    *,
    aliases: Keys | None = None,
    spilling: Spilling | None = None,
) -> MirrorPlan:
    """Diff the current members against the audience's history (all sorted, distinct keys).

    Whatever is current and not surely present is added; whatever is possibly present and not
    current is removed. Amendments are idempotent, so re-sending an uncertain change is safe.
    ``aliases`` are the current members in the form the history was written in, when it was written in
    another: they leave the audience (to be replaced by their current form) but do not count as leaving.
    The keys are walked in aligned windows: key sets on disk are never read whole.
    """
    if not len(previous) and not intents:  # a first export: everyone is added, nobody leaves
        return MirrorPlan(current, empty_digests(dtype_of(current)), unchanged=0, previous=0, leaving=0)
    dtype = dtype_of(current)
    intended = [keys for i in intents for keys in (i.adds, i.removes)]
    spilling = _on_disk(spilling, current, previous, *intended, *([] if aliases is None else [aliases]))
    adds, removes = KeyWriter(dtype, spilling, "adds"), KeyWriter(dtype, spilling, "removes")
    extra = [] if aliases is None else [_whole(aliases)]
    unchanged = leaving = 0
    for window in windows([_whole(current), *extra, *_streams(previous, intents)], dtype):
        now, alias = window[0], (window[1] if extra else None)
        before, pending = window[1 + len(extra)], window[2 + len(extra) :]
        surely_present, maybe_present = _bounds(before, pending, dtype)
        added = setdiff_sorted(now, surely_present)
        removed = setdiff_sorted(maybe_present, now)
        adds.write(added)
        removes.write(removed)
        unchanged += len(now) - len(added)
        if alias is not None:
            leaving += int((~isin_sorted(before, union_sorted(now, alias))).sum())
        elif maybe_present is before:
            leaving += len(removed)
        else:
            leaving += int((~isin_sorted(before, now)).sum())
    return MirrorPlan(
        adds.done(), removes.done(), unchanged=unchanged, previous=len(previous), leaving=leaving
    )


def _on_disk(spilling: Spilling | None, *inputs: Keys) -> Spilling | None:
    """``spilling`` when an input is on disk; else None: what is derived from arrays in memory (within
    the budget) is no larger than they are, and stays in memory too."""
    return spilling if any(not isinstance(keys, np.ndarray) for keys in inputs) else None


def _whole(keys: Keys) -> Iterator[np.ndarray]:
    """An array as one chunk (no copy), a key file in chunks."""
    return iter([keys]) if isinstance(keys, np.ndarray) else chunks(keys)


def _streams(previous: Keys, intents: Sequence[Intent]) -> list[Iterator[np.ndarray]]:
    """The snapshot, then each intent's adds and removes, as streams for :func:`windows`."""
    pending = [stream for intent in intents for stream in (_whole(intent.adds), _whole(intent.removes))]
    return [_whole(previous), *pending]


def _bounds(previous: np.ndarray, pending: Sequence[np.ndarray], dtype: str) -> tuple[np.ndarray, np.ndarray]:
    """:func:`history_bounds` of one window: ``pending`` alternates intents' adds and removes."""
    if not pending:
        return previous, previous
    maybe_added = reduce(union_sorted, pending[0::2], empty_digests(dtype))
    maybe_removed = reduce(union_sorted, pending[1::2], empty_digests(dtype))
    return setdiff_sorted(previous, maybe_removed), union_sorted(previous, maybe_added)


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
