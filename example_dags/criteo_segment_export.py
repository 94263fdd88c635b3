"""Export the demo warehouse's segments to Criteo audiences.

Scheduled by the asset ``warehouse://demo/segment_members``: every ``customer_profile_refresh`` is
followed by an export of every segment with the defaults below (mirror, not a dry run). Trigger it by
hand to choose segments, the sync mode or a dry run in the trigger form.

One ``SegmentExportOperator`` task per segment, each retrying on its own and all sharing the
``criteo_api`` pool (it bounds concurrent calls to Criteo's API), sends each profile's e-mail, phone
number and mobile ad id to the segment's audience and appends its summary to the warehouse table
``criteo_export_history`` (audience size and match rate over time); ``log_run_summary`` then logs one
table for the run from the tasks' summaries (counts only, no personal data).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, Asset, Param, task
from airflow.sdk.exceptions import AirflowException
from criteo_examples import (
    CRITEO_POOL,
    HISTORY_TABLE,
    SEGMENT_MEMBERS_URI,
    SEGMENT_NAMES,
    WAREHOUSE_CONN_ID,
    summary_table,
)
from criteo_examples.forms import chosen, segment_multi_select

from airflow_provider_criteo.operators.segment_export import SYNC_MODES, SegmentExportOperator

log = logging.getLogger(__name__)

with DAG(
    dag_id="criteo_segment_export",
    schedule=[Asset(SEGMENT_MEMBERS_URI)],
    catchup=False,
    max_active_runs=1,
    render_template_as_native_obj=True,  # dry_run renders as a boolean
    tags=["criteo", "example"],
    doc_md=__doc__,
    params={
        "segments": segment_multi_select(
            SEGMENT_NAMES,
            title="Segments",
            description="The warehouse segments to export, each to the Criteo audience of the same name.",
            known_only=True,
        ),
        "sync_mode": Param(
            "mirror",
            type="string",
            enum=list(SYNC_MODES),
            values_display={
                "mirror": "mirror: add new members, remove those who left",
                "add_only": "add_only: add every member, remove nobody",
                "replace": "replace: empty the audience, then add every member",
            },
            title="Sync mode",
            description="How each Criteo audience is brought in step with its segment.",
        ),
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Read, validate and report what would be sent, without sending anything to Criteo.",
        ),
    },
) as dag:
    # The trigger form's choice; on a run the asset triggers, the default: every segment.
    chosen_segments = chosen.override(task_id="chosen_segments")("segments")
    exports = SegmentExportOperator.partial(
        task_id="export_segment",
        sql_conn_id=WAREHOUSE_CONN_ID,
        sql="SELECT email, phone, mobile_ad_id FROM segment_members WHERE segment = :segment",
        parameters={"segment": "{{ task.segment }}"},
        # Every identifier the warehouse has goes to the one audience: more of its people are matched.
        identifier_columns={"email": "email", "phoneNumber": "phone", "madid": "mobile_ad_id"},
        phone_region="FR",  # the CRM writes French numbers without their country code
        history_table=HISTORY_TABLE,
        audience_description="{{ task.segment }}, exported from the demo warehouse by Airflow",
        sync_mode="{{ params.sync_mode }}",
        dry_run="{{ params.dry_run }}",
        pool=CRITEO_POOL,
        # A retry heals what a failed or lost try left (its intent is in the mirror state), on any
        # worker. The hook already retries Criteo's transient errors within each try.
        retries=2,
        retry_delay=timedelta(seconds=30),
        map_index_template="{{ task.segment }}",
    ).expand(segment=chosen_segments)

    @task(trigger_rule="all_done")
    def log_run_summary(summaries: list[dict[str, Any]], segments: list[str]) -> list[dict[str, Any]]:
        """Log one table of the run's exports, in the order chosen; fail if an export failed."""
        by_segment = {summary["segment"]: summary for summary in summaries}
        rows = [by_segment[name] for name in segments if name in by_segment]
        log.info("Criteo export of %d segment(s):\n%s", len(rows), summary_table(rows))
        failed = [name for name in segments if name not in by_segment]
        if failed:
            raise AirflowException(
                f"The export of segment(s) {', '.join(failed)} failed: see their task logs."
            )
        return rows

    log_run_summary(exports.output, chosen_segments)
