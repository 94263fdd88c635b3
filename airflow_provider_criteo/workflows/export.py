"""The export: a segment read from SQL into member sets, and sent to keep its Criteo audience in step.

:class:`SegmentExport` is what the ``SegmentExportOperator`` runs; it needs no operator (a ``@task``
may run it), only a hook, a query, the options and a state store.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.workflows import preflight
from airflow_provider_criteo.workflows.export_audience import ExportAudience
from airflow_provider_criteo.workflows.export_options import ExportOptions
from airflow_provider_criteo.workflows.summary import ExportSummary, Statistics
from airflow_provider_criteo.workflows.workflow import Workflow

if TYPE_CHECKING:
    from airflow_provider_criteo.segments.reading import Read, RunSink


class SegmentExport(Workflow[ExportOptions]):
    """One export of a segment to its Criteo audience, with ``options`` saying what and how."""

    #: The advertiser and the audience, once found or created: what a failed export may have changed.
    advertiser: str | None = None
    audience_id: str | None = None

    def _run(self) -> dict[str, Any]:
        """Read, prepare and send the segment; return the summary (the task's XCom value).

        With ``max_profiles=None`` nothing needs the whole segment before sending starts: the audience
        is found (or created) first, and a new one's members are sent as they are read and sorted.
        """
        options = self.options
        preflight.check_consent(self.hook, dry_run=options.dry_run, log=self.log)
        self.store.check_shared()
        advertiser = self.advertiser = self.hook.resolve_advertiser(options.advertiser_id)
        target = ExportAudience(
            self.hook, self.store, options, advertiser, run=self.run_identity, log=self.log
        )
        created = False
        if options.dry_run:
            read = self._read(advertiser)
            audience_id, sync = target.as_it_is()
            result = sync.preview(options.sync_mode, read.members, exists=audience_id is not None)
            self.log.info(
                "Dry run: would add %d and remove %d members of audience %r; nothing sent.",
                result.added,
                result.removed,
                target.name,
            )
        elif options.max_profiles is None:
            preflight.check_advertiser(self.hook, advertiser)
            audience_id, created, sync = target.taken(self.owner)
            self.audience_id = audience_id
            if created:
                with sync.streaming(options.sync_mode, self.query.forms()) as early:
                    read = self._read(advertiser, checked=True, on_run=early)
                    result = sync.run(options.sync_mode, read.members, created, early=early)
            else:
                read = self._read(advertiser, checked=True)
                result = sync.run(options.sync_mode, read.members, created)
        else:
            read = self._read(advertiser)
            audience_id, created, sync = target.taken(self.owner)
            self.audience_id = audience_id
            result = sync.run(options.sync_mode, read.members, created)
        summary = ExportSummary.of(
            read,
            result,
            Statistics.of(self.hook, audience_id, self.log) if audience_id else None,
            segment=options.segment,
            audience_name=target.name,
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

    def _read(self, advertiser: str, *, checked: bool = False, on_run: RunSink | None = None) -> Read:
        """Read the segment (checking the advertiser once the query ran, unless ``checked``), then check
        its size."""
        options = self.options
        read = self.query.read(
            log=self.log,
            what=f"segment {options.segment!r}",
            opened=None if checked else lambda: preflight.check_advertiser(self.hook, advertiser),
            spilling=self.spilling,
            on_run=on_run,
        )
        preflight.check_size(options.segment, read.members, options.max_profiles)
        distinct = sum(len(group) for _, group in read.members)
        preflight.warn_small_segment(options.segment, distinct, options.min_audience_size, self.log)
        return read
