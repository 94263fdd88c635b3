"""Forgetting people in one audience: removing them at Criteo and from its snapshots, under fenced leases.

Erasure requests come first: what keeps an audience's state from being updated (damaged state, another
run's lease) is reported, never a reason to keep the people at Criteo when they can be removed.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING

from airflow_provider_criteo.client.resources import CONTACT_LIST_READ_ONLY, MAX_IDENTIFIERS_PER_REQUEST
from airflow_provider_criteo.exceptions import (
    AudienceLockedError,
    CriteoPermissionError,
    LeaseLostError,
    SnapshotCorruptError,
)
from airflow_provider_criteo.sync.protocol import hold
from airflow_provider_criteo.sync.snapshots import SnapshotKey

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    import numpy as np

    from airflow_provider_criteo.hooks.criteo import CriteoHook
    from airflow_provider_criteo.identifiers.forms import IdentifierForm
    from airflow_provider_criteo.sync.snapshots import SnapshotStore

    #: One member list of the people: its form, every key to erase, and whether any was read (not derived).
    Forgotten = tuple[IdentifierForm, np.ndarray, bool]


class Left(StrEnum):
    """Why an audience kept the people, or its state did not forget them."""

    READ_ONLY = "read-only"  # Criteo keeps the contact list read-only: the people are still there
    BUSY = "busy"  # another run held it: nothing was removed
    DAMAGED = "damaged"  # removed at Criteo; the damaged state waits for its repair


def forget(
    hook: CriteoHook,
    store: SnapshotStore,
    advertiser: str,
    audience_id: str,
    people: Sequence[Forgotten],
    owner: str,
) -> tuple[Left, str] | None:
    """Remove the people from one audience's member lists and snapshots; say what was left, and why.

    A list that only derived keys would touch (the MD5 form of addresses) is left alone where exports
    never sent it. Damaged state does not keep the people at Criteo: they are removed without it.
    """
    touched = []
    for kind, keys, read in people:
        key = SnapshotKey(advertiser, audience_id, kind.name, kind.hashing)
        if len(keys) and (read or store.has_history(key)):
            touched.append((kind, keys, key))
    try:
        damage = _forget(hook, store, audience_id, touched, owner)
    except CriteoPermissionError as err:  # a read-only list Criteo did not say was one
        if CONTACT_LIST_READ_ONLY not in err.codes:
            raise
        return Left.READ_ONLY, str(err)
    except (AudienceLockedError, LeaseLostError) as err:
        return Left.BUSY, type(err).__name__
    return (Left.DAMAGED, damage) if damage else None


def _forget(
    hook: CriteoHook,
    store: SnapshotStore,
    audience_id: str,
    touched: Sequence[tuple[IdentifierForm, np.ndarray, SnapshotKey]],
    owner: str,
) -> str | None:
    """Remove keys at Criteo and from the snapshots under the lists' leases; the damage found, or None."""
    try:
        with hold(store, [key for _, _, key in touched], owner) as leases:
            histories = {key: leases[key].history() for _, _, key in touched}  # damage shows here
            for kind, keys, key in touched:
                _remove(hook, audience_id, kind, keys, leases.check)
                leases[key].forget(keys, histories[key])
    except SnapshotCorruptError as err:  # raised before anything was sent
        for kind, keys, _ in touched:
            _remove(hook, audience_id, kind, keys, None)
        return str(err)
    return None


def _remove(
    hook: CriteoHook,
    audience_id: str,
    kind: IdentifierForm,
    keys: np.ndarray,
    check: Callable[[], object] | None,
) -> None:
    """Remove keys of one form from an audience at Criteo; ``check`` runs before each request."""
    hook.remove_identifiers(
        audience_id,
        kind.wire_lazily(keys, MAX_IDENTIFIERS_PER_REQUEST),
        identifier_type=kind.name,
        precondition=check,
    )
