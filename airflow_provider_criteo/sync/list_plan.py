"""One member list's part of a run: what it will send, and the history it was planned on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_provider_criteo.exceptions import CriteoStateError
from airflow_provider_criteo.sync.modes import SyncMode
from airflow_provider_criteo.sync.snapshots import empty_digests

if TYPE_CHECKING:
    from airflow_provider_criteo.identifiers.forms import IdentifierForm
    from airflow_provider_criteo.segments.key_files import Keys
    from airflow_provider_criteo.segments.member_sets import MemberSet
    from airflow_provider_criteo.sync.snapshots import Intent, Snapshot, SnapshotKey


@dataclass
class ListPlan:
    """One member list's part of a run, filled in by the planning and read by the sending.

    ``key`` is None when no snapshot is kept or recorded (plain e-mails, which have no keys; ``add_only``
    on an audience whose list has no history): the members are then only added.
    """

    kind: IdentifierForm
    members: MemberSet
    key: SnapshotKey | None
    mode: SyncMode
    adds: Keys = field(default_factory=empty_digests)
    removes: Keys = field(default_factory=empty_digests)
    wipe: bool = False
    snapshot: Snapshot | None = None
    intents: list[Intent] = field(default_factory=list)
    #: The encoding of the keys the run commits (the list's own, unless add_only keeps an older one).
    encoding: str | None = None
    #: The run cannot vouch for the whole list (add_only without history): it leaves its intent as the
    #: list's history, and commits no snapshot.
    intent_only: bool = False
    #: The snapshot may hold members an older version wiped (see planning.Planner._doubt_unseen_wipes).
    doubtful: bool = False
    #: For the removal guard, after a mirror plan: (members leaving, committed size or None if wiped).
    guard: tuple[int, int | None] | None = None
    #: State files of the list that could not be read, for a run that starts the list over to retire.
    damaged: tuple[str, ...] = ()
    #: The version the list is at (the snapshot's, or one that could not be read): the commit's base.
    version: int | None = None
    #: What the run's intent says it may remove: its removes, or after a wipe whatever may be present.
    intended_removes: Keys = field(default_factory=empty_digests)

    @property
    def previous(self) -> Keys:
        """The members the last committed snapshot holds (none without one), as keys of this type."""
        return self.snapshot.digests if self.snapshot is not None else self.no_keys()

    def no_keys(self) -> Keys:
        """An empty key set of this list's type."""
        keys = self.members.keys
        return empty_digests() if keys is None else empty_digests(keys.dtype)

    def add_everything(self) -> None:
        """Plan a wipe: add every member, remove nothing, commit in the list's own encoding."""
        self.wipe = True
        self.removes = self.no_keys()
        self.encoding = self.kind.encoding
        if self.members.keys is not None:
            self.adds = self.members.keys

    @property
    def mirrors(self) -> bool:
        """Whether the run sends only the difference with the history (members not sent are unchanged)."""
        return self.mode == SyncMode.MIRROR

    @property
    def keeps_previous(self) -> bool:
        """Whether the commit keeps the members of the last snapshot (add_only removes nobody)."""
        return self.mode == SyncMode.ADD_ONLY

    def refused_after(self, refused_now: int | None) -> int | None:
        """How many of the committed members Criteo counted invalid when they were added (None: unknown)."""
        if self.wipe or self.snapshot is None:
            return refused_now
        before = self.snapshot.refused
        return None if before is None or refused_now is None else before + refused_now

    def older_encoding(self, audience_id: str) -> str | None:
        """The snapshot's encoding when it is the list's older one (to migrate), else None.

        A snapshot of an encoding this version cannot translate (written by a newer version) is refused.
        """
        if self.snapshot is None:
            return None
        recorded = self.kind.encoding_of(self.snapshot.encoding)
        if recorded == self.kind.encoding:
            return None
        if recorded != self.kind.legacy_encoding or self.members.legacy_keys is None:
            raise CriteoStateError(
                f"The {self.kind.label} snapshot of audience {audience_id} holds keys encoded as "
                f"{recorded!r}, which this version cannot compare with its own ({self.kind.encoding!r}): was "
                "it written by a newer version of airflow-provider-criteo? Nothing was sent; run the export "
                "with the version that wrote it, or with sync_mode='replace' to start the list again."
            )
        return recorded
