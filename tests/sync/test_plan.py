from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_criteo.exceptions import LargeRemovalError
from airflow_provider_criteo.segments.key_files import KeyFile, Spilling, chunks
from airflow_provider_criteo.segments.sorted_keys import isin_sorted, setdiff_sorted, union_sorted
from airflow_provider_criteo.segments.spill import SpillFolder
from airflow_provider_criteo.sync.plan import check_removal, history_bounds, plan_mirror
from airflow_provider_criteo.sync.snapshots import Intent


def digests(*ids: int) -> np.ndarray:
    """Sorted, distinct 32-byte digests (with trailing zero bytes, the tricky case for numpy)."""
    return np.unique(np.array([i.to_bytes(2, "big") + b"\x00" * 30 for i in ids], dtype="S32"))


def ids(array: np.ndarray) -> set[int]:
    raw = array.tobytes()
    return {int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 32)}


def test_plan_sends_only_who_joined_and_who_left():
    plan = plan_mirror(current=digests(2, 3, 4, 5), previous=digests(1, 2, 3))
    assert (ids(plan.adds), ids(plan.removes), plan.unchanged, plan.previous, plan.leaving) == (
        {4, 5},
        {1},
        2,
        3,
        1,
    )


def test_first_run_adds_everything():
    plan = plan_mirror(current=digests(1, 2), previous=digests())
    assert (ids(plan.adds), ids(plan.removes), plan.unchanged) == ({1, 2}, set(), 0)


def test_uncommitted_runs_are_folded_in():
    crashed = Intent("intent-1", adds=digests(7, 8), removes=digests(2, 3))
    plan = plan_mirror(current=digests(1, 3, 8), previous=digests(1, 2, 3), intents=[crashed])
    # 7 may have been added and is not current: removed again. 3 may have been removed and is current:
    # added again. 8 may be there and is current: re-added (idempotent), never counted as unchanged.
    assert ids(plan.adds) == {3, 8}
    assert ids(plan.removes) == {2, 7}
    assert plan.unchanged == 1
    assert plan.leaving == 1  # only 2 was committed and is gone: 7 is a retry's clean-up


def test_removal_guard():
    check_removal(leaving=5, previous=10, current=5, max_fraction=0.5, segment="vip")
    with pytest.raises(LargeRemovalError, match="would remove 6 of 10 members"):
        check_removal(leaving=6, previous=10, current=4, max_fraction=0.5, segment="vip")
    with pytest.raises(LargeRemovalError, match="came back empty: the run would remove all 10 members"):
        check_removal(leaving=10, previous=10, current=0, max_fraction=1.0, segment="vip")
    with pytest.raises(LargeRemovalError, match="would remove its members"):
        check_removal(leaving=0, previous=None, current=0, max_fraction=0.5, segment="vip")
    check_removal(leaving=0, previous=0, current=0, max_fraction=0.5, segment="vip")


# --- the sorted-array set operations behind the plan: numpy's results, without numpy's re-sorting ---

SORTED_DIGESTS = st.lists(st.integers(0, 40)).map(lambda values: digests(*values))


@given(SORTED_DIGESTS, SORTED_DIGESTS)
@settings(max_examples=300)
def test_sorted_set_operations_are_numpy_s(first, second):
    assert (isin_sorted(first, second) == np.isin(first, second)).all()
    assert (
        setdiff_sorted(first, second).tobytes() == np.setdiff1d(first, second, assume_unique=True).tobytes()
    )
    assert union_sorted(first, second).tobytes() == np.union1d(first, second).tobytes()


@given(SORTED_DIGESTS, SORTED_DIGESTS, st.lists(st.tuples(SORTED_DIGESTS, SORTED_DIGESTS), max_size=2))
@settings(max_examples=200)
def test_plan_is_the_set_arithmetic_of_its_docstring(current, previous, changes):
    intents = [Intent(f"intent-{i}", adds, removes) for i, (adds, removes) in enumerate(changes)]
    maybe_added = set().union(*(ids(i.adds) for i in intents))
    maybe_removed = set().union(*(ids(i.removes) for i in intents))
    surely = ids(previous) - maybe_removed
    maybe = ids(previous) | maybe_added
    plan = plan_mirror(current, previous, intents)
    assert ids(plan.adds) == ids(current) - surely
    assert ids(plan.removes) == maybe - ids(current)
    assert plan.leaving == len(ids(previous) - ids(current))
    assert plan.unchanged == len(current) - len(plan.adds)
    for array in (plan.adds, plan.removes):
        assert array.tobytes() == np.unique(array).tobytes()  # sorted and distinct, as sent and stored


def on_disk(folder, keys: np.ndarray, chunk: int) -> KeyFile:
    """The keys as a spill file read ``chunk`` keys at a time."""
    path = folder / f"{len(list(folder.iterdir()))}.keys"
    path.write_bytes(keys.tobytes())
    return KeyFile(str(path), "S32", len(keys), chunk=chunk)


def as_list(keys) -> list[bytes]:
    return [key for part in chunks(keys) for key in part.tolist()]


@settings(max_examples=150, deadline=None)
@given(
    current=SORTED_DIGESTS,
    previous=SORTED_DIGESTS,
    pending=st.lists(st.tuples(SORTED_DIGESTS, SORTED_DIGESTS), max_size=3),
    aliases=st.one_of(st.none(), SORTED_DIGESTS),
    chunk=st.integers(1, 9),
    budget=st.sampled_from([32, 200, 10**9]),
)
def test_a_plan_on_disk_in_small_windows_is_the_plan_in_memory(
    tmp_path_factory, current, previous, pending, aliases, chunk, budget
):
    intents = [Intent(f"i{n}", adds, removes) for n, (adds, removes) in enumerate(pending)]
    expected = plan_mirror(current, previous, intents, aliases=aliases)
    folder = tmp_path_factory.mktemp("keys")
    with SpillFolder(str(folder)) as spill:
        streamed = plan_mirror(
            on_disk(folder, current, chunk),
            on_disk(folder, previous, chunk),
            streamed_intents(folder, intents, chunk),
            aliases=None if aliases is None else on_disk(folder, aliases, chunk),
            spilling=Spilling(spill, budget),
        )
        assert (as_list(streamed.adds), as_list(streamed.removes)) == (
            expected.adds.tolist(),
            expected.removes.tolist(),
        )
        assert (streamed.unchanged, streamed.previous, streamed.leaving) == (
            expected.unchanged,
            expected.previous,
            expected.leaving,
        )
        surely, maybe = history_bounds(
            on_disk(folder, previous, chunk), streamed_intents(folder, intents, chunk)
        )
        in_memory = history_bounds(previous, intents)
        assert (as_list(surely), as_list(maybe)) == (in_memory[0].tolist(), in_memory[1].tolist())


def streamed_intents(folder, intents, chunk):
    return [
        Intent(i.name, on_disk(folder, i.adds, chunk), on_disk(folder, i.removes, chunk)) for i in intents
    ]
