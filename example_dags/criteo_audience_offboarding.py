"""Privacy exit: remove Criteo audiences, their members and their mirror snapshots.

Trigger it by hand and choose the audiences (named after their segments). For each one, the task finds
the audience of the connection's advertiser, wipes its members, deletes the snapshot the mirror sync
kept of them, then deletes the audience. Each step is idempotent, in that order, so a retry after any
failure finishes the job: the snapshot goes before the audience because, once the audience is gone,
nothing leads back to its snapshot.

Pause ``criteo_segment_export`` (or drop the segment) first: its next run would create the audience
again. An audience whose contact list Criteo keeps read-only (one Criteo or a partner maintains) is
refused before anything is changed: its members cannot be wiped through the API.
"""

from __future__ import annotations

import logging
from typing import Any

from airflow.sdk import DAG, get_current_context, task
from criteo_examples import CRITEO_POOL
from criteo_examples.forms import chosen, segment_multi_select

from airflow_provider_criteo.hooks.criteo import CriteoHook
from airflow_provider_criteo.sync.protocol import hold
from airflow_provider_criteo.sync.snapshots import SnapshotStore
from airflow_provider_criteo.workflows.ownership import read_only_error
from airflow_provider_criteo.workflows.run_identity import lease_owner

log = logging.getLogger(__name__)

with DAG(
    dag_id="criteo_audience_offboarding",
    schedule=None,
    tags=["criteo", "example", "privacy"],
    doc_md=__doc__,
    params={
        "audiences": segment_multi_select(
            [],
            title="Audiences to remove",
            description="Criteo audiences (segment names) to empty and delete, with their mirror snapshots.",
            known_only=False,
        ),
    },
) as dag:

    @task(pool=CRITEO_POOL, multiple_outputs=False, map_index_template="{{ task.op_kwargs['name'] }}")
    def offboard_audience(name: str) -> dict[str, Any]:
        """Wipe and delete one audience of the connection's advertiser, and delete its snapshots."""
        hook = CriteoHook()
        audience = hook.find_contact_list_segment(name)
        if audience is None:
            log.info("Advertiser %s has no audience named %r: nothing to remove.", hook.advertiser_id, name)
            return {"audience_name": name, "audience_id": None, "deleted": False}
        if audience.read_only:
            raise read_only_error(
                [audience], "Nothing was changed; ask Criteo, or the partner that maintains it, to remove it."
            )
        store = SnapshotStore.from_config()
        store.check_shared()
        advertiser = audience.advertiser_id or hook.resolve_advertiser()
        # Under fenced leases on the audience's lists, as an export would hold them: none runs meanwhile.
        # Starting over: damaged state does not stop it, as all of it goes.
        lists = store.lists(advertiser, audience.id)
        with hold(store, lists, lease_owner(get_current_context()), starting_over=True) as leases:
            hook.wipe_contact_list(audience.id, precondition=leases.check)
            store.delete_audience(advertiser, audience.id)
        hook.delete_audience_segments([audience.id])
        log.info("Removed audience %r (id %s) of advertiser %s.", name, audience.id, audience.advertiser_id)
        return {"audience_name": name, "audience_id": audience.id, "deleted": True}

    offboard_audience.expand(name=chosen.override(task_id="chosen_audiences")("audiences"))
