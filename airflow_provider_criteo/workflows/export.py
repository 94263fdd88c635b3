"""The export: a segment read from SQL into member sets, and sent to keep its Criteo audience in step.

:class:`SegmentExport` is what the ``SegmentExportOperator`` runs; it needs no operator (a ``@task``
may run it), only a hook, a query, the options and a state store.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from airflow_provider_criteo.sync.audience import AudienceSync
from airflow_provider_criteo.workflows import ownership, preflight
from airflow_provider_criteo.workflows.export_options import ExportOptions
from airflow_provider_criteo.workflows.summary import ExportSummary, Statistics
from airflow_provider_criteo.workflows.workflow import Workflow


class SegmentExport(Workflow[ExportOptions]):
    """One export of a segment to its Criteo audience, with ``options`` saying what and how."""

    def _run(self) -> dict[str, Any]:
        """Read, prepare and send the segment; return the summary (the task's XCom value)."""
        options = self.options
        preflight.check_consent(self.hook, dry_run=options.dry_run, log=self.log)
        self.store.check_shared()
        name = options.audience_name or options.segment
        advertiser = self.hook.resolve_advertiser(options.advertiser_id)
        read = self.query.read(
            log=self.log,
            what=f"segment {options.segment!r}",
            opened=lambda: preflight.check_advertiser(self.hook, advertiser),
            spilling=self.spilling,
        )
        preflight.check_size(options.segment, read.members, options.max_profiles)
        distinct = sum(len(group) for _, group in read.members)
        preflight.warn_small_segment(options.segment, distinct, options.min_audience_size, self.log)
        tag = ownership.ownership_tag(self.run_identity["dag_id"], self.run_identity["task_id"])
        if options.dry_run:
            audience_id, sync = self._dry_run_sync(name, advertiser, tag)
            created = False
            result = sync.preview(options.sync_mode, read.members, exists=audience_id is not None)
            self.log.info(
                "Dry run: would add %d and remove %d members of audience %r; nothing sent.",
                result.added,
                result.removed,
                name,
            )
        else:
            audience_id, created = self._audience(name, advertiser, tag)
            sync = self._sync(advertiser, audience_id, self.owner)
            result = sync.run(options.sync_mode, read.members, created)
        summary = ExportSummary.of(
            read,
            result,
            Statistics.of(self.hook, audience_id, self.log) if audience_id else None,
            segment=options.segment,
            audience_name=name,
            advertiser_id=advertiser,
            sync_mode=options.sync_mode,
            dry_run=options.dry_run,
            audience_id=audience_id,
            audience_created=created,
        )
        self.log.info("Criteo export of segment %r:\n%s", options.segment, summary.as_table())
        if options.history_table:
            conn_id = options.history_conn_id or self.query.conn_id
            summary.append_to(options.history_table, conn_id, self.run_identity)
        return asdict(summary)

    def _sync(self, advertiser: str, audience_id: str, owner: str) -> AudienceSync:
        return AudienceSync(
            self.hook,
            self.store,
            advertiser,
            audience_id,
            owner=owner,
            policy=self.options.policy,
            segment=self.options.segment,
            log=self.log,
            spilling=self.store.spilling,
        )

    def _dry_run_sync(self, name: str, advertiser: str, tag: str) -> tuple[str | None, AudienceSync]:
        """The audience a real run would send to (None: it would create it), and its sync, left unchanged."""
        audience = self.hook.find_contact_list_segment(name, advertiser_id=advertiser)
        if audience is not None:
            options = self.options
            ownership.take(
                self.hook,
                audience,
                tag,
                adopt=options.adopt_existing_audience,
                mode=options.sync_mode,
                dry_run=True,
            )
        audience_id = audience.id if audience else None
        return audience_id, self._sync(advertiser, audience_id or "0", owner="dry-run")

    def _audience(self, name: str, advertiser: str, tag: str) -> tuple[str, bool]:
        """The audience's id (checked to be ours to change, or created tagged as ours), and if created."""
        options = self.options
        audience, created = ownership.find_or_create(
            self.hook,
            name,
            advertiser,
            tag,
            description=options.audience_description or f"Segment {options.segment!r}, exported by Airflow",
            adopt=options.adopt_existing_audience,
            mode=options.sync_mode,
            max_audiences=options.max_audiences,
            log=self.log,
        )
        return audience.id, created
