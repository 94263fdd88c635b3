"""The offboarding: remove a Criteo audience, its members and its mirror state (a privacy exit).

Each step is idempotent, in this order, so a retry after any failure finishes the job: the state goes
before the audience because, once the audience is gone, nothing leads back to its state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sync.protocol import hold
from airflow_provider_criteo.workflows.ownership import read_only_error

if TYPE_CHECKING:
    from airflow_provider_criteo.hooks.criteo import CriteoHook
    from airflow_provider_criteo.sync.snapshots import SnapshotStore


def offboard_audience(
    hook: CriteoHook, store: SnapshotStore, name: str, *, owner: str, log: Any
) -> dict[str, Any]:
    """Wipe and delete the audience ``name`` of the hook's advertiser, and delete its mirror state.

    An audience whose contact list Criteo keeps read-only is refused before anything is changed. The
    wipe and the deletion of the state happen under the fenced leases an export would hold (starting
    over: damaged state does not stop it, as all of it goes), so no export runs meanwhile.
    """
    audience = hook.find_contact_list_segment(name)
    if audience is None:
        log.info("Advertiser %s has no audience named %r: nothing to remove.", hook.advertiser_id, name)
        return {"audience_name": name, "audience_id": None, "deleted": False}
    if audience.read_only:
        raise read_only_error(
            [audience], "Nothing was changed; ask Criteo, or the partner that maintains it, to remove it."
        )
    store.check_shared()
    advertiser = audience.advertiser_id or hook.resolve_advertiser()
    with hold(store, store.lists(advertiser, audience.id), owner, starting_over=True) as leases:
        hook.wipe_contact_list(audience.id, precondition=leases.check)
        store.delete_audience(advertiser, audience.id)
    hook.delete_audience_segments([audience.id])
    log.info("Removed audience %r (id %s) of advertiser %s.", name, audience.id, audience.advertiser_id)
    return {"audience_name": name, "audience_id": audience.id, "deleted": True}
