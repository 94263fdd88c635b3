from __future__ import annotations

import itertools
import os
import stat

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_criteo.segments.key_files import KeyFile, KeyWriter, Spilling, chunks
from airflow_provider_criteo.segments.key_streams import merge_runs, windows
from airflow_provider_criteo.segments.spill import SpillFolder

DTYPE = "S8"


def keys(values) -> np.ndarray:
    """Distinct sorted 8-byte keys of small integers (big-endian, so byte order is number order)."""
    return np.array([int(v).to_bytes(8, "big") for v in sorted(set(values))], dtype=DTYPE)


key_sets = st.lists(st.integers(0, 300), max_size=120).map(keys)


@settings(max_examples=200, deadline=None)
@given(st.lists(key_sets, min_size=1, max_size=5), st.integers(1, 7))
def test_windows_cover_every_stream_in_aligned_ranges(sets, chunk):
    found = list(windows([chunks(s, chunk) for s in sets], DTYPE))
    for index, stream in enumerate(sets):
        rebuilt = np.concatenate([w[index] for w in found]) if found else stream[:0]
        assert rebuilt.tolist() == stream.tolist()
    for earlier, later in itertools.pairwise(found):
        last = max(part[-1] for part in earlier if len(part))
        first = min(part[0] for part in later if len(part))
        assert last < first
    assert all(any(len(part) for part in window) for window in found)


@settings(max_examples=200, deadline=None)
@given(st.lists(key_sets, max_size=6), st.integers(1, 9), st.integers(8, 200))
def test_merging_runs_is_their_sorted_union_in_memory_or_spilled(tmp_path_factory, runs, chunk, budget):
    expected = np.unique(np.concatenate([*runs, keys([])])).tolist()
    assert merge_runs(runs, KeyWriter(DTYPE), chunk).tolist() == expected
    with SpillFolder(str(tmp_path_factory.mktemp("spill"))) as spill:
        merged = merge_runs(runs, KeyWriter(DTYPE, Spilling(spill, budget)), chunk)
        assert isinstance(merged, KeyFile) == (len(expected) * 8 > budget)
        assert [k for part in chunks(merged, chunk) for k in part.tolist()] == expected


def test_a_writer_within_budget_returns_its_one_chunk_itself():
    part = keys(range(10))
    writer = KeyWriter(DTYPE, None)
    writer.write(part)
    assert writer.done() is part


def test_a_writer_past_budget_spills_to_a_private_file(tmp_path):
    with SpillFolder(str(tmp_path)) as spill:
        writer = KeyWriter(DTYPE, Spilling(spill, 64), "adds")
        for start in range(0, 100, 10):
            writer.write(keys(range(start, start + 10)))
        written = writer.done()
        assert isinstance(written, KeyFile)
        assert len(written) == 100
        assert stat.S_IMODE(os.stat(written.path).st_mode) == 0o600
        assert np.concatenate(list(written.chunks(7))).tolist() == keys(range(100)).tolist()


def test_a_truncated_key_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "keys"
    path.write_bytes(keys(range(10)).tobytes()[:-3])
    with pytest.raises(OSError, match=rf"spill file {path} ends early"):
        list(KeyFile(str(path), DTYPE, 10).chunks(4))
