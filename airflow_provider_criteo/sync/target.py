"""The audience a sync works on, and as whom: what planning it and sending to it share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sync.modes import SyncPolicy
from airflow_provider_criteo.sync.snapshots import SnapshotKey, SnapshotStore

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_criteo.hooks.criteo import CriteoHook
    from airflow_provider_criteo.identifiers.forms import IdentifierForm
    from airflow_provider_criteo.segments.key_files import Spilling
    from airflow_provider_criteo.segments.member_sets import MemberSet

    #: A segment's member lists: each form of an identifier type with its members.
    Members = Sequence[tuple[IdentifierForm, MemberSet]]
    #: The member lists a segment's rows feed, before they are read.
    Forms = Sequence[IdentifierForm]


@dataclass(frozen=True)
class AudienceTarget:
    """One Criteo audience, the store of its snapshots, and the run that changes it.

    :param owner: holder of the audience's leases: the task instance, so that its retry takes them back.
    :param segment: the segment synced into it, for the messages of the removal guard.
    """

    hook: CriteoHook
    store: SnapshotStore
    advertiser_id: str
    audience_id: str
    owner: str
    segment: str
    log: Any
    #: Where key sets too large for the memory budget go (None: everything in memory).
    spilling: Spilling | None = None
    #: The safety settings of its sync.
    policy: SyncPolicy = field(default_factory=SyncPolicy)

    def key(self, kind: IdentifierForm) -> SnapshotKey:
        """The key of the snapshots of one member list of the audience."""
        return SnapshotKey(self.advertiser_id, self.audience_id, kind.name, kind.hashing)
