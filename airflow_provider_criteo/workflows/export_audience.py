"""The audience an export sends to: found and checked to be this task's, or created tagged as its own;
and the sync that changes it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sync.audience import AudienceSync
from airflow_provider_criteo.workflows import ownership

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_criteo.hooks.criteo import CriteoHook
    from airflow_provider_criteo.sync.snapshots import SnapshotStore
    from airflow_provider_criteo.workflows.export_options import ExportOptions


class ExportAudience:
    """Finds, checks or creates the audience of one export, by name, for one advertiser.

    :param store: the run's state store (its spilling is the sync's).
    :param run: the Airflow run, whose DAG and task the ownership tag names.
    """

    def __init__(
        self,
        hook: CriteoHook,
        store: SnapshotStore,
        options: ExportOptions,
        advertiser: str,
        *,
        run: Mapping[str, str],
        log: Any,
    ) -> None:
        self.hook = hook
        self.store = store
        self.options = options
        self.advertiser = advertiser
        self.name = options.target_name
        self.tag = ownership.ownership_tag(run["dag_id"], run["task_id"])
        self.log = log

    def sync(self, audience_id: str, owner: str) -> AudienceSync:
        """The sync of the audience, its leases held by ``owner``."""
        options = self.options
        return AudienceSync(
            self.hook,
            self.store,
            self.advertiser,
            audience_id,
            owner=owner,
            policy=options.policy,
            segment=options.segment,
            log=self.log,
            spilling=self.store.spilling,
        )

    def as_it_is(self) -> tuple[str | None, AudienceSync]:
        """The audience a real run would send to (None: it would create it), and its sync, for a dry run:
        checked, left unchanged."""
        audience = self.hook.find_contact_list_segment(self.name, advertiser_id=self.advertiser)
        if audience is not None:
            options = self.options
            ownership.take(
                self.hook,
                audience,
                self.tag,
                adopt=options.adopt_existing_audience,
                mode=options.sync_mode,
                dry_run=True,
            )
        audience_id = audience.id if audience else None
        return audience_id, self.sync(audience_id or "0", owner="dry-run")

    def taken(self, owner: str) -> tuple[str, bool, AudienceSync]:
        """The audience's id (checked to be ours to change, or created tagged as ours), whether it was
        created, and its sync."""
        options = self.options
        audience, created = ownership.find_or_create(
            self.hook,
            self.name,
            self.advertiser,
            self.tag,
            description=options.audience_description or f"Segment {options.segment!r}, exported by Airflow",
            adopt=options.adopt_existing_audience,
            mode=options.sync_mode,
            max_audiences=options.max_audiences,
            log=self.log,
        )
        return audience.id, created, self.sync(audience.id, owner)
