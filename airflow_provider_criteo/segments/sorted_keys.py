"""Set operations on sorted, distinct arrays of member keys (numpy), in linear time and flat memory."""

from __future__ import annotations

import numpy as np


def isin_sorted(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    """Which ``values`` are in ``members`` (a sorted digest array): ``np.isin`` by binary search.

    ``np.isin`` sorts both arrays of ``S32`` items again; a search in the sorted one is several times faster.
    """
    if not len(members) or not len(values):
        return np.zeros(len(values), dtype=bool)
    found = np.minimum(np.searchsorted(members, values), len(members) - 1)
    return np.asarray(members[found] == values, dtype=bool)


def setdiff_sorted(values: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """``values`` (sorted, distinct) less ``removed`` (sorted): ``np.setdiff1d(..., assume_unique=True)``.

    Removing nothing returns ``values`` itself, not a copy: a first export holds its members once.
    """
    if not len(removed):
        return values
    return values[~isin_sorted(values, removed)]


def union_sorted(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The sorted distinct union of two digest arrays: ``np.union1d``."""
    if not len(second):
        return distinct_sorted(np.sort(first))
    return distinct_sorted(np.sort(np.concatenate([first, second])))


def distinct_sorted(keys: np.ndarray) -> np.ndarray:
    """The distinct keys of a sorted key array (a new array): ``np.unique`` without its sort.

    Far faster than numpy's comparison of ``S32`` items (see :func:`first_of_each`).
    """
    if len(keys) < 2:
        return np.array(keys, dtype=keys.dtype)
    return keys[first_of_each(keys)]


def first_of_each(keys: np.ndarray) -> np.ndarray:
    """Which keys of a sorted key array differ from the one before: the mask of its distinct keys.

    Neighbours are compared as 64-bit words (keys are a multiple of 8 bytes wide).
    """
    first = np.empty(len(keys), dtype=bool)
    if not len(keys):
        return first
    words = np.ascontiguousarray(keys).view(np.uint64).reshape(len(keys), -1)
    first[0] = True
    np.any(words[1:] != words[:-1], axis=1, out=first[1:])
    return first
