"""Bringing one Criteo audience to a segment's members, by sync mode, with the snapshots kept in step.

- ``mirror`` sends only the difference with the audience's history (the last committed snapshot,
  plus whatever uncommitted runs may have changed), so the audience ends up holding the segment.
- ``replace`` wipes the audience, then adds every member.
- ``add_only`` adds every member and removes nothing.

An audience may hold several member lists: identifier types (e-mails, phone numbers, mobile ad ids
...) and forms of one type (e-mails hashed with SHA-256, or given as MD5 digests), each with its own
snapshots and fenced lease (:mod:`~airflow_provider_criteo.sync.protocol`). Under all of their leases,
a run records every list's intent before its first request (a wipe empties the audience for every
list at once, so it comes after all of them), and commits a list's new snapshot only after every
batch succeeded, so a later mirror run always diffs against the truth. A snapshot written in an older
encoding of its keys (phone numbers hashed with their ``+``) is migrated by an ordinary mirror run: its
members are replaced by their current form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from airflow_provider_criteo.client.resources import MAX_IDENTIFIERS_PER_REQUEST, plus_count
from airflow_provider_criteo.exceptions import CriteoApiError, CriteoStateError
from airflow_provider_criteo.identifiers.values import given_hashing
from airflow_provider_criteo.progress import Progress
from airflow_provider_criteo.segments.sorted_keys import union_sorted
from airflow_provider_criteo.sync.modes import DEFAULT_MAX_REMOVAL_FRACTION, OnDrift, OnMissingState, SyncMode
from airflow_provider_criteo.sync.plan import check_removal, history_bounds, plan_mirror
from airflow_provider_criteo.sync.protocol import hold, peek
from airflow_provider_criteo.sync.snapshots import SnapshotKey, empty_digests

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from airflow_provider_criteo.client.resources import AmendmentResult
    from airflow_provider_criteo.hooks.criteo import CriteoHook
    from airflow_provider_criteo.identifiers.forms import IdentifierForm
    from airflow_provider_criteo.segments.member_sets import MemberSet
    from airflow_provider_criteo.sync.protocol import History, Leases
    from airflow_provider_criteo.sync.snapshots import Intent, Snapshot, SnapshotStore


@dataclass
class SyncResult:
    """What a sync did (or, in a dry run, would do) with one member list of an audience.

    ``criteo_valid`` and ``criteo_invalid`` are what Criteo counted over the list's amendments (None
    unless every answer had counts: they are optional in its schema).
    """

    added: int = 0
    removed: int = 0
    unchanged: int = 0
    requests: int = 0
    snapshot_version: int | None = None
    criteo_valid: int | None = None
    criteo_invalid: int | None = None

    def count(self, amendment: AmendmentResult) -> None:
        """Take the requests and Criteo's counts of one operation's amendments."""
        first = self.requests == 0
        self.requests += amendment.requests
        self.criteo_valid = plus_count(self.criteo_valid, amendment.valid, first=first)
        self.criteo_invalid = plus_count(self.criteo_invalid, amendment.invalid, first=first)


@dataclass(frozen=True)
class Drift:
    """Criteo's own count of an audience's identifiers against what its mirror state says it holds.

    :param criteo: Criteo's ``numberOfIdentifiers`` before the run.
    :param low: the fewest the state allows (committed members surely present, less those Criteo counted
        invalid when they were added); None when that is not known.
    :param high: the most the state allows (committed members and what unfinished runs may have added).
    """

    criteo: int
    low: int | None
    high: int

    @property
    def amount(self) -> int:
        """Identifiers Criteo holds beyond the state (positive), or short of it (negative); 0 in range."""
        if self.criteo > self.high:
            return self.criteo - self.high
        if self.low is not None and self.criteo < self.low:
            return self.criteo - self.low
        return 0


@dataclass
class AudienceResult:
    """What a sync did (or would do) with an audience: by member list (type, hashing), and the wipe."""

    by_form: dict[tuple[str, str], SyncResult] = field(default_factory=dict)
    wiped: bool = False
    #: Requests that belong to no one list (the wipe).
    requests: int = 0
    #: What Criteo's count said before the run, when it could be compared.
    drift: Drift | None = None


@dataclass(frozen=True)
class SyncPolicy:
    """The safety settings of a sync.

    :param on_missing_state: what mirror does with an existing audience that has no snapshot:
        ``"replace"`` (wipe, then add: exact at once) or ``"add_only"`` (add; older members stay).
    :param max_removal_fraction: mirror refuses to remove more than this share of the audience.
    :param allow_large_removal: lift that guard (and the one against an empty segment).
    :param batch_size: identifiers per amendment request (Criteo takes at most 50,000).
    :param on_drift: what mirror does when Criteo's count of the audience is outside what its state
        allows: ``"warn"`` (report it; Criteo's counts lag behind recent uploads, so a default must not
        wipe on lag) or ``"replace"`` (wipe, then add the segment: exact at once).
    """

    on_missing_state: str = OnMissingState.REPLACE
    max_removal_fraction: float = DEFAULT_MAX_REMOVAL_FRACTION
    allow_large_removal: bool = False
    batch_size: int = MAX_IDENTIFIERS_PER_REQUEST
    on_drift: str = OnDrift.WARN


@dataclass
class _Plan:
    """One member list's part of a run: what to send, and the history it was planned on.

    ``key`` is None when no snapshot is kept or recorded (plain e-mails, which have no keys; ``add_only``
    on an audience whose list has no history): the members are then only added.
    """

    kind: IdentifierForm
    members: MemberSet
    key: SnapshotKey | None
    adds: np.ndarray = field(default_factory=empty_digests)
    removes: np.ndarray = field(default_factory=empty_digests)
    wipe: bool = False
    snapshot: Snapshot | None = None
    intents: list[Intent] = field(default_factory=list)
    #: The encoding of the keys the run commits (the list's own, unless add_only keeps an older one).
    encoding: str | None = None
    #: The run cannot vouch for the whole list (add_only without history): it leaves its intent as the
    #: list's history, and commits no snapshot.
    intent_only: bool = False
    #: The snapshot may hold members an older version wiped (see AudienceSync._doubt_unseen_wipes).
    doubtful: bool = False
    #: For the removal guard, after a mirror plan: (members leaving, committed size or None if wiped).
    guard: tuple[int, int | None] | None = None
    #: State files of the list that could not be read, for a run that starts the list over to retire.
    damaged: tuple[str, ...] = ()
    #: The version the list is at (the snapshot's, or one that could not be read): the commit's base.
    version: int | None = None

    @property
    def previous(self) -> np.ndarray:
        """The members the last committed snapshot holds (none without one), as keys of this type."""
        if self.snapshot is not None:
            return self.snapshot.digests
        keys = self.members.keys
        return empty_digests() if keys is None else keys[:0]


class AudienceSync:
    """Syncs the identifier types of one audience.

    :param owner: holder of the audience's leases: the task instance, so that its retry takes them back.
    """

    def __init__(
        self,
        hook: CriteoHook,
        store: SnapshotStore,
        advertiser_id: str,
        audience_id: str,
        *,
        owner: str,
        policy: SyncPolicy,
        segment: str,
        log: Any,
    ) -> None:
        self.hook = hook
        self.store = store
        self.advertiser_id = advertiser_id
        self.audience_id = audience_id
        self.owner = owner
        self.policy = policy
        self.segment = segment
        self.log = log
        self.drift: Drift | None = None

    # ------------------------------------------------------------------------------- planning

    def _key(self, kind: IdentifierForm, members: MemberSet) -> SnapshotKey | None:
        if members.keys is None:
            return None
        return SnapshotKey(self.advertiser_id, self.audience_id, kind.name, kind.hashing)

    def _new_plans(self, members: Sequence[tuple[IdentifierForm, MemberSet]]) -> list[_Plan]:
        """A plan per list taking part, with the key of its snapshot (None when it keeps none).

        An optional list (e-mails given as MD5 digests) takes part only with members or a history.
        """
        plans = [
            _Plan(kind, group, self._key(kind, group), encoding=kind.encoding) for kind, group in members
        ]
        return [plan for plan in plans if not plan.kind.optional or self._has_part(plan)]

    def _has_part(self, plan: _Plan) -> bool:
        return len(plan.members) > 0 or (plan.key is not None and self.store.has_history(plan.key))

    def _plan_all(
        self, mode: str, plans: list[_Plan], created: bool, history: Callable[[SnapshotKey], History]
    ) -> None:
        """Plan every list, reading its history; raises before anything is sent.

        A wipe (``replace``, or ``mirror`` of a list without history) empties the audience for every
        list: then every list adds all its members and removes nothing.
        """
        for plan in plans:
            if plan.key is not None and plan.members.keys is not None and not created:
                found = history(plan.key)
                plan.snapshot, plan.intents, plan.damaged = found.snapshot, found.intents, found.damaged
                plan.version = found.version
        self._doubt_unseen_wipes(plans)
        self.drift = None if created or mode != SyncMode.MIRROR else self._measure_drift(plans)
        for plan in plans:
            self._plan(mode, plan, created)
        if not self.policy.allow_large_removal:
            self._check_removals(plans)
        if self.drift is not None and self.drift.amount and self.policy.on_drift == OnDrift.REPLACE:
            self.log.warning(
                "on_drift='replace': wiping audience %s and adding the segment.", self.audience_id
            )
            plans[0].wipe = True
        if any(plan.wipe for plan in plans):
            for plan in plans:
                plan.wipe = True
                plan.removes = plan.removes[:0]
                plan.encoding = plan.kind.encoding
                if plan.members.keys is not None:
                    plan.adds = plan.members.keys

    def _measure_drift(self, plans: list[_Plan]) -> Drift | None:
        """Criteo's count of the audience against its state, before planning; None when it cannot tell.

        Every list with state counts, this run's and the others (a type no longer exported still has
        members at Criteo). Criteo has no count yet, or plain e-mails keep no state: no comparison.
        """
        if any(plan.members.keys is None for plan in plans):
            return None
        try:
            count = self.hook.get_contact_list_statistics(self.audience_id).number_of_identifiers
        except CriteoApiError as err:
            self.log.warning(
                "Could not read audience %s's statistics to check drift: %s", self.audience_id, err
            )
            return None
        if count is None:
            return None
        planned = {plan.key: (plan.snapshot, plan.intents) for plan in plans if plan.key is not None}
        others = [key for key in self.store.lists(self.advertiser_id, self.audience_id) if key not in planned]
        for key in others:
            try:
                other = peek(self.store, key)
            except (CriteoStateError, FileNotFoundError):
                return None  # damaged, or a file a run removed while it was read: nothing to compare with
            planned[key] = (other.snapshot, other.intents)
        low: int | None = 0
        high = 0
        for snapshot, intents in planned.values():
            previous = snapshot.digests if snapshot is not None else empty_digests()
            surely, maybe = history_bounds(previous, intents)
            high += len(maybe)
            refused = snapshot.refused if snapshot is not None else 0
            low = None if low is None or refused is None else low + len(surely) - refused
        drift = Drift(count, low, high)
        if drift.amount:
            self.log.warning(
                "Audience %s drifted from its mirror state: Criteo counts %d identifiers, the state allows "
                "%s to %d (%+d). Criteo's counts lag behind recent uploads; if this persists, someone "
                "changed the audience outside this export, or its state was lost: run once with "
                "sync_mode='replace' (or on_drift='replace') to make it exact.",
                self.audience_id,
                count,
                "?" if low is None else low,
                high,
                drift.amount,
            )
        return drift

    def _doubt_unseen_wipes(self, plans: list[_Plan]) -> None:
        """Doubt the snapshot of a list older versions did not know, when one of them ran after it.

        Such a version commits the lists it knows without an encoding; if it did after this list's
        snapshot (a rolling upgrade, a worker left behind), it may have wiped the audience: the snapshot
        is then what may be present, not what surely is.
        """
        for plan in plans:
            snapshot = plan.snapshot
            if snapshot is None or not plan.kind.unknown_to_older_versions:
                continue
            later = [
                other.kind.label
                for other in plans
                if other.snapshot is not None
                and other.snapshot.encoding is None
                and (other.snapshot.committed_at or 0.0) > (snapshot.committed_at or 0.0)
            ]
            if later:
                plan.doubtful = True
                self.log.warning(
                    "Audience %s: a version before 0.2 committed its %s after the %s snapshot, and may have "
                    "wiped the audience without knowing that list: this run adds all of the list's members "
                    "again (and removes who left).",
                    self.audience_id,
                    ", ".join(later),
                    plan.kind.label,
                )

    def _plan(self, mode: str, plan: _Plan, created: bool) -> None:
        """What to add and remove of one list, and whether to wipe first."""
        current = plan.members.keys
        if plan.key is None or current is None:
            plan.wipe = mode == SyncMode.REPLACE and not created
            return
        plan.adds, plan.removes = current, current[:0]
        unknown = plan.snapshot is None and not plan.intents and not created
        if mode == SyncMode.ADD_ONLY and unknown:
            if plan.kind.optional:
                # An optional list without members or history takes no part in a run: only its intent,
                # left in place, makes a later mirror run remove what this one adds.
                plan.intent_only = True
                return
            self.log.info(
                "Audience %s has no %s snapshot: add_only adds, and records nothing.",
                self.audience_id,
                plan.kind.label,
            )
            plan.key = None
            return
        if mode != SyncMode.MIRROR:
            plan.wipe = mode == SyncMode.REPLACE and not created
            if mode == SyncMode.ADD_ONLY and (older := self._older_encoding(plan)):
                plan.encoding = older  # nothing is removed: members of the older form stay, and say so
            return
        aliases = None
        if older := self._older_encoding(plan):
            aliases = plan.members.legacy_keys
            self.log.warning(
                "Audience %s: its %s snapshot holds an older form of the identifiers (%s). This run removes "
                "them and adds their current form (%s); the removal guard counts only people who left. "
                "Values the source gives already hashed are sent as they are: hash them in the current form "
                "too, or they match nobody.",
                self.audience_id,
                plan.kind.label,
                older,
                plan.kind.encoding,
            )
        mirror = plan_mirror(current, plan.previous, plan.intents, aliases=aliases)
        if plan.doubtful:  # what the snapshot holds may be gone: add every member again
            plan.adds = current
        else:
            plan.adds = mirror.adds
        plan.removes = mirror.removes
        plan.wipe = unknown and self.policy.on_missing_state == OnMissingState.REPLACE
        plan.guard = (mirror.leaving, None if plan.wipe else mirror.previous)
        if unknown:
            self.log.warning(
                "Audience %s exists at Criteo but has no %s mirror snapshot (a first mirror export, or the "
                "snapshot was deleted): on_missing_state=%r.",
                self.audience_id,
                plan.kind.label,
                self.policy.on_missing_state,
            )

    def _check_removals(self, plans: list[_Plan]) -> None:
        """The removal guard, by identifier type: a person whose identifier changed form did not leave.

        Each type's lists are counted together (e-mails hashed here and given as MD5 digests), so that
        an address given in another form this time is not a removal, while a broken column still is.
        """
        by_type: dict[str, list[_Plan]] = {}
        for plan in plans:
            if plan.guard is not None:
                by_type.setdefault(plan.kind.name, []).append(plan)
        for name, group in by_type.items():
            knowns = [plan.guard[1] for plan in group if plan.guard is not None]
            check_removal(
                sum(plan.guard[0] for plan in group if plan.guard is not None),
                None if None in knowns else sum(k for k in knowns if k is not None),
                sum(len(plan.members) for plan in group),
                self.policy.max_removal_fraction,
                self.segment,
                name if len(by_type) > 1 else "",
            )

    def _older_encoding(self, plan: _Plan) -> str | None:
        """The snapshot's encoding when it is the list's older one (to migrate), else None.

        A snapshot of an encoding this version cannot translate (written by a newer version) is refused.
        """
        if plan.snapshot is None:
            return None
        recorded = plan.kind.encoding_of(plan.snapshot.encoding)
        if recorded == plan.kind.encoding:
            return None
        if recorded != plan.kind.legacy_encoding or plan.members.legacy_keys is None:
            raise CriteoStateError(
                f"The {plan.kind.label} snapshot of audience {self.audience_id} holds keys encoded as "
                f"{recorded!r}, which this version cannot compare with its own ({plan.kind.encoding!r}): was "
                "it written by a newer version of airflow-provider-criteo? Nothing was sent; run the export "
                "with the version that wrote it, or with sync_mode='replace' to start the list again."
            )
        return recorded

    def preview(
        self, mode: str, members: Sequence[tuple[IdentifierForm, MemberSet]], exists: bool
    ) -> AudienceResult:
        """What :meth:`run` would do, reading the history but sending and writing nothing."""
        plans = self._new_plans(members)
        self._plan_all(mode, plans, not exists, lambda key: peek(self.store, key))
        result = AudienceResult(wiped=any(plan.wipe for plan in plans), drift=self.drift)
        for plan in plans:
            added = len(plan.members) if plan.members.keys is None else len(plan.adds)
            result.by_form[plan.kind.name, plan.kind.hashing] = SyncResult(
                added=added, removed=len(plan.removes), unchanged=len(plan.members) - added
            )
        return result

    # ------------------------------------------------------------------------------- running

    def run(
        self, mode: str, members: Sequence[tuple[IdentifierForm, MemberSet]], created: bool
    ) -> AudienceResult:
        """Sync the audience to the members of each list, under fenced leases on the lists with state.

        Every request and every commit first checks that the run still holds its leases.
        """
        plans = self._new_plans(members)
        keys = [plan.key for plan in plans if plan.key is not None]
        with hold(self.store, keys, self.owner, starting_over=mode == SyncMode.REPLACE) as leases:
            self._plan_all(mode, plans, created, lambda key: leases[key].history())
            intents = {plan.key: self._record_intent(leases, plan) for plan in plans if plan.key is not None}
            result = AudienceResult(drift=self.drift)
            if any(plan.wipe for plan in plans):
                self.log.info("Wiping audience %s before adding the segment's members.", self.audience_id)
                self.hook.wipe_contact_list(self.audience_id, precondition=leases.check)
                result.requests, result.wiped = 1, True
            for plan in plans:
                result.by_form[plan.kind.name, plan.kind.hashing] = self._send(
                    mode, plan, leases, intents.get(plan.key) if plan.key is not None else None
                )
            return result

    def _record_intent(self, leases: Leases, plan: _Plan) -> str:
        """Record what this run may change of one list, before the first request of the run."""
        assert plan.key is not None
        maybe_present = history_bounds(plan.previous, plan.intents)[1]
        return leases[plan.key].record_intent(plan.adds, maybe_present if plan.wipe else plan.removes)

    def _send(self, mode: str, plan: _Plan, leases: Leases, intent: str | None) -> SyncResult:
        """Send one list's adds and removes; commit its snapshot and retire the intents it settles."""
        result = SyncResult()
        current = plan.members.keys
        if current is None:  # plain e-mails
            result.added = self._amend(plan.kind, "add", plan.members.identifiers(), result, leases)
            return result
        if plan.key is None or intent is None:
            result.added = self._amend(plan.kind, "add", plan.adds, result, leases)
            return result
        result.unchanged = len(current) - len(plan.adds) if mode == SyncMode.MIRROR else 0
        result.added = self._amend(plan.kind, "add", plan.adds, result, leases)
        refused_now = result.criteo_invalid if result.requests else 0
        result.removed = self._amend(plan.kind, "remove", plan.removes, result, leases)
        if plan.intent_only:
            return result
        # add_only leaves other runs' intents in place: what they may have removed is still uncertain.
        committed = union_sorted(plan.previous, current) if mode == SyncMode.ADD_ONLY else current
        result.snapshot_version = leases[plan.key].commit(
            committed,
            expected_version=plan.version,
            encoding=plan.encoding,
            refused=self._refused(plan, refused_now),
            own_intent=intent,
            folded=[] if mode == SyncMode.ADD_ONLY else [i.name for i in plan.intents],
            retire=plan.damaged,
        )
        return result

    @staticmethod
    def _refused(plan: _Plan, refused_now: int | None) -> int | None:
        """How many of the committed members Criteo counted invalid when they were added (None: unknown)."""
        if plan.wipe or plan.snapshot is None:
            return refused_now
        before = plan.snapshot.refused
        return None if before is None or refused_now is None else before + refused_now

    def _amend(
        self,
        kind: IdentifierForm,
        operation: str,
        identifiers: Iterable[str] | np.ndarray,
        result: SyncResult,
        leases: Leases,
    ) -> int:
        """Send one operation in batches of ``batch_size``, logging progress; return the count sent.

        ``identifiers`` are strings sent as they are, or an array of member keys (sent as the list says).
        Before each request, retries included, the run checks it still holds its leases: one that lost
        them stops at once.
        """
        label = f"{operation} {kind.label} to audience {self.audience_id}"
        progress = Progress(self.log, label, "identifiers")
        sent = batches = 0

        def sent_one(amendment: AmendmentResult, count: int) -> None:
            nonlocal sent, batches
            result.count(amendment)
            self._note_refused(kind, operation, amendment)
            sent, batches = sent + count, batches + 1
            progress.update(sent, f"batch {batches}")

        size = self.policy.batch_size
        self.hook.amend_contact_list(
            self.audience_id,
            operation,
            kind.wire_lazily(identifiers, size) if isinstance(identifiers, np.ndarray) else identifiers,
            identifier_type=kind.name,
            batch_size=size,
            precondition=leases.check,
            on_request=sent_one,
        )
        return sent

    def _note_refused(self, kind: IdentifierForm, operation: str, amendment: AmendmentResult) -> None:
        """Warn when Criteo counted identifiers of a batch as invalid: we sent them as valid."""
        if not amendment.invalid:
            return
        samples = [s for s in amendment.sample_invalid if given_hashing(s.lower())]
        self.log.warning(
            "Criteo counted %d of the %s identifiers of this %s batch as invalid, which this export "
            "counted valid%s.",
            amendment.invalid,
            kind.label,
            operation,
            f" (samples, digests only: {', '.join(samples)})" if samples else "",
        )
