"""The export: a segment read from SQL into member sets, and sent to keep its Criteo audience in step.

:class:`SegmentExport` is what the ``SegmentExportOperator`` runs; it needs no operator (a ``@task``
may run it), only a hook, a query, the options and a state store.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.exceptions import CriteoApiError, CriteoConfigurationError
from airflow_provider_criteo.segments.source import get_sql_hook
from airflow_provider_criteo.sync.audience import AudienceSync, SyncPolicy
from airflow_provider_criteo.sync.modes import SyncMode
from airflow_provider_criteo.workflows.history import append_history
from airflow_provider_criteo.workflows.ownership import claim, ownership_tag, read_only_error, tagged
from airflow_provider_criteo.workflows.preflight import (
    DEFAULT_MAX_AUDIENCES,
    DEFAULT_MIN_AUDIENCE_SIZE,
    check_advertiser,
    warn_audience_cap,
    warn_small_segment,
)
from airflow_provider_criteo.workflows.summary import ExportSummary, Statistics
from airflow_provider_criteo.workflows.workflow import Workflow

if TYPE_CHECKING:
    from airflow_provider_criteo.client.resources import AudienceSegment
    from airflow_provider_criteo.hooks.criteo import CriteoHook
    from airflow_provider_criteo.segments.query import SegmentQuery
    from airflow_provider_criteo.segments.reading import Members
    from airflow_provider_criteo.sync.audience import AudienceResult
    from airflow_provider_criteo.sync.snapshots import SnapshotStore

#: The most distinct members of one identifier type an export sends unless told otherwise.
DEFAULT_MAX_PROFILES = 1_000_000


@dataclass(frozen=True)
class ExportOptions:
    """What to export where, and the safety settings (see the operator's parameters)."""

    segment: str
    sync_mode: str = SyncMode.MIRROR.value
    dry_run: bool = False
    audience_name: str | None = None
    audience_description: str | None = None
    advertiser_id: str | None = None
    adopt_existing_audience: bool = False
    max_profiles: int | None = DEFAULT_MAX_PROFILES
    min_audience_size: int = DEFAULT_MIN_AUDIENCE_SIZE
    max_audiences: int = DEFAULT_MAX_AUDIENCES
    policy: SyncPolicy = field(default_factory=SyncPolicy)
    history_table: str | None = None
    history_conn_id: str | None = None


class SegmentExport(Workflow):
    """One export of a segment to its Criteo audience, with ``options`` saying what and how."""

    def __init__(
        self, hook: CriteoHook, query: SegmentQuery, options: ExportOptions, store: SnapshotStore, **run: Any
    ) -> None:
        super().__init__(hook, query, store, **run)
        self.options = options

    def run(self) -> dict[str, Any]:
        """Read, prepare and send the segment; return the summary (the task's XCom value)."""
        options = self.options
        self._check_consent()
        self.store.check_shared()
        name = options.audience_name or options.segment
        advertiser = self.hook.resolve_advertiser(options.advertiser_id)
        read = self.query.read(log=self.log, what=f"segment {options.segment!r}")
        self._check_size(read.members)
        check_advertiser(self.hook, advertiser)
        distinct = sum(len(group) for _, group in read.members)
        warn_small_segment(options.segment, distinct, options.min_audience_size, self.log)
        tag = ownership_tag(self.run_identity["dag_id"], self.run_identity["task_id"])
        if options.dry_run:
            audience_id, created, result = self._dry_run(name, advertiser, read.members, tag)
        else:
            audience_id, created, result = self._send(name, advertiser, read.members, tag)
        summary = ExportSummary.of(
            read,
            result,
            self._statistics(audience_id) if audience_id else None,
            segment=options.segment,
            audience_name=name,
            advertiser_id=advertiser,
            sync_mode=options.sync_mode,
            dry_run=options.dry_run,
            audience_id=audience_id,
            audience_created=created,
        )
        self.log.info("Criteo export of segment %r:\n%s", options.segment, summary.as_table())
        values = asdict(summary)
        if options.history_table:
            history_hook = get_sql_hook(options.history_conn_id or self.query.conn_id)
            append_history(history_hook, options.history_table, values, self.run_identity)
        return values

    # ------------------------------------------------------------------------------------ checks

    def _check_consent(self) -> None:
        """No member data leaves for Criteo before someone agreed to it on the connection."""
        if self.hook.config.data_transfer_consent:
            return
        if self.options.dry_run:
            self.log.warning(
                "Connection %r has no data transfer consent; a dry run sends nothing.",
                self.hook.criteo_conn_id,
            )
            return
        raise CriteoConfigurationError(
            f"Connection {self.hook.criteo_conn_id!r} has not agreed to send customer data to Criteo: tick "
            "'I agree to send customer data to Criteo' on the connection (extra data_transfer_consent=true) "
            "once your data protection review allows it. Nothing was read or sent."
        )

    def _check_size(self, members: Members) -> None:
        if self.options.max_profiles is None:
            return
        by_type: dict[str, int] = {}
        for form, group in members:
            by_type[form.name] = by_type.get(form.name, 0) + len(group)
        cap = self.options.max_profiles
        for name, size in by_type.items():
            if size > cap:
                what = "members" if len(by_type) == 1 else f"{name} members"
                raise CriteoConfigurationError(
                    f"Segment {self.options.segment!r} has {size:,} distinct valid {what}, over "
                    f"max_profiles={cap:,}. Nothing was sent. Raise max_profiles (or set it to None) if "
                    "this size is expected."
                )

    def _claim(self, audience: AudienceSegment, tag: str, *, dry_run: bool = False) -> None:
        """Refuse, before anything is sent, an audience that is read-only at Criteo or not ours to change."""
        if audience.read_only:
            raise read_only_error([audience], "Nothing was sent. Export to another audience_name.")
        options = self.options
        claim(
            self.hook,
            audience,
            tag,
            adopt=options.adopt_existing_audience,
            mode=options.sync_mode,
            dry_run=dry_run,
        )

    def _statistics(self, audience_id: str) -> Statistics:
        """Criteo's size and match rate of the audience; None, with a note, while it has not computed them.

        The sync is done by then: statistics Criteo fails to give are noted, they do not fail the task.
        """
        try:
            statistics = self.hook.get_contact_list_statistics(audience_id)
        except CriteoApiError as err:
            note = f"Criteo's statistics could not be read after the export: {err}"
            self.log.warning("%s", note)
            return Statistics(statistics_note=note)
        size, rate = statistics.number_of_identifiers, statistics.match_rate
        if size is not None and rate is not None:
            return Statistics(size, rate)
        self.log.info("Criteo has not computed the statistics of audience %s yet.", audience_id)
        return Statistics(
            size,
            rate,
            "Criteo has not computed this audience's statistics yet (matching is asynchronous); the next "
            "run reports them.",
        )

    # ------------------------------------------------------------------------------------ sending

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
        )

    def _dry_run(
        self, name: str, advertiser: str, members: Members, tag: str
    ) -> tuple[str | None, bool, AudienceResult]:
        """What a real run would send, found without creating or changing anything at Criteo."""
        audience = self.hook.find_contact_list_segment(name, advertiser_id=advertiser)
        if audience is not None:
            self._claim(audience, tag, dry_run=True)
        sync = self._sync(advertiser, audience.id if audience else "0", owner="dry-run")
        result = sync.preview(self.options.sync_mode, members, exists=audience is not None)
        self.log.info(
            "Dry run: would add %d and remove %d members of audience %r; nothing sent.",
            sum(done.added for done in result.by_form.values()),
            sum(done.removed for done in result.by_form.values()),
            name,
        )
        return (audience.id if audience else None), False, result

    def _send(
        self, name: str, advertiser: str, members: Members, tag: str
    ) -> tuple[str, bool, AudienceResult]:
        """Find or create the audience, and sync it to the members."""
        audience, created = self._audience(name, advertiser, tag)
        result = self._sync(advertiser, audience.id, self.owner).run(self.options.sync_mode, members, created)
        return audience.id, created, result

    def _audience(self, name: str, advertiser: str, tag: str) -> tuple[AudienceSegment, bool]:
        """Find the audience (checking it is ours to change) or create it, tagged as ours."""
        audience = self.hook.find_contact_list_segment(name, advertiser_id=advertiser)
        created = False
        if audience is None:
            warn_audience_cap(self.hook, advertiser, self.options.max_audiences, self.log)
            description = (
                self.options.audience_description or f"Segment {self.options.segment!r}, exported by Airflow"
            )
            audience, created = self.hook.get_or_create_contact_list_segment(
                name, advertiser_id=advertiser, description=tagged(description, tag)
            )
        if not created:
            self._claim(audience, tag)
        self.log.info(
            "%s Criteo audience %r (id %s) of advertiser %s.",
            "Created" if created else "Found",
            audience.name,
            audience.id,
            audience.advertiser_id,
        )
        return audience, created
