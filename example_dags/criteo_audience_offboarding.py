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
from airflow_provider_criteo.sync.snapshots import SnapshotStore
from airflow_provider_criteo.workflows.offboarding import offboard_audience as offboard
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
        owner = lease_owner(get_current_context())
        return offboard(CriteoHook(), SnapshotStore.from_config(), name, owner=owner, log=log)

    offboard_audience.expand(name=chosen.override(task_id="chosen_audiences")("audiences"))
