"""The sync protocol: how runs take turns on an audience's member lists, and what the state says.

Every change to a list at Criteo (an export's amendments and wipe, an erasure, an offboarding) happens
under a **fenced lease** on the list (:func:`hold`):

- Taking the lease creates the next ``fence-<token>.json`` exclusively: the token is a fencing token,
  one higher than the last. A live lease of another owner refuses the new run (it sent nothing); the
  same owner (a retry of the task instance) and an expired or released lease are taken over at once.
- The holder renews its fence (a heartbeat thread) and calls :meth:`Leases.check` before every request
  and before it commits: a newer fence (another run took over), a lapsed lease (the worker was paused
  past it) or a heartbeat that could not be written (a full volume) stop the run at once with a
  :class:`LeaseLostError`. A run that lost its lease sends at most the request already on its way.
- The newest fence says what the list is at: its committed snapshot version and its pending intents.
  A snapshot or an intent it names that is missing is damage, reported, never replaced by older state.
- Before its first request a run records its intent (what it may add or remove). Intents are retired
  only by commits: its own by the run's commit; another run's once two commits folded it in, so that a
  run still sending when the first one folded it cannot leave changes no later run sees. A commit that
  loses the race (compare-and-swap on the version) leaves every intent for the next run.

Versions 0.1 and earlier kept a plain ``lock`` file: it is honoured (a live one of another owner keeps
this run out) and written too, so that their workers keep out while a newer one holds the list.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.exceptions import (
    AudienceLockedError,
    CriteoConfigurationError,
    LeaseLostError,
    SnapshotConflictError,
    SnapshotCorruptError,
)
from airflow_provider_criteo.segments.key_streams import difference
from airflow_provider_criteo.sync.snapshots import SAFE_REPAIR, Intent, Snapshot, encoded

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from airflow_provider_criteo.segments.key_files import Keys
    from airflow_provider_criteo.sync.snapshots import SnapshotKey, SnapshotStore

    #: Where a run reads a list's history: under its lease, or a peek (a dry run).
    HistoryOf = Callable[[SnapshotKey], "History"]

#: A lease whose heartbeat is older than this is abandoned (its worker died) and may be taken over;
#: ``[criteo] lease_seconds`` changes it.
DEFAULT_LEASE_SECONDS = 300.0
#: Committed versions kept per list.
KEEP_VERSIONS = 2
#: Fences kept per list besides the newest (what took turns lately, for a person looking).
KEEP_FENCES = 4
#: Commits that fold another run's intent before it is retired.
FOLDS_TO_RETIRE = 2
#: Retired intent names a commit carries forward from the one before (so that a run taken over between
#: its commit and the deletion of its intent does not leave an "intent missing" behind).
RETIRED_REMEMBERED = 256
LEGACY_LOCK = "lock"


@dataclass
class Fence:
    """One lease of a list, as its fence file keeps it.

    :param version: the committed snapshot version the list is at (None: never committed).
    :param intents: the pending intents, each with the number of commits that folded it so far.
    """

    owner: str
    token: int
    heartbeat: float
    released: bool = False
    version: int | None = None
    intents: dict[str, int] = field(default_factory=dict)

    def to_bytes(self) -> bytes:
        """The fence file: the record and its checksum."""
        record = asdict(self)
        checksum = hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()
        return json.dumps({"fence": record, "sha256": checksum}, sort_keys=True).encode()

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> Fence:
        """Read a fence file; any damage is a SnapshotCorruptError."""
        try:
            body = json.loads(data)
            record = body["fence"]
            if hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest() != body["sha256"]:
                raise ValueError("checksum mismatch")
            fence = cls(**record)
            if not isinstance(fence.token, int) or not isinstance(fence.intents, dict):
                raise TypeError("not a fence record")
            return fence
        except (ValueError, KeyError, TypeError, AttributeError) as err:
            raise SnapshotCorruptError(f"Lease record {where} is damaged ({err}). {SAFE_REPAIR}") from None


def list_name(key: SnapshotKey) -> str:
    """A member list, for messages."""
    return f"audience {key.audience_id}'s {key.identifier_type}-{key.hashing} list"


def fence_name(token: int) -> str:
    """The file name of a fence."""
    return f"fence-{token:012d}.json"


def fence_tokens(names: Iterable[str]) -> list[int]:
    """The fencing tokens among a folder's file names, in order."""
    return sorted(
        int(name[6:-5])
        for name in names
        if name.startswith("fence-") and name.endswith(".json") and name[6:-5].isdigit()
    )


@dataclass(frozen=True)
class History:
    """What a list holds at Criteo as its state says: the last commit, and what runs since may have done.

    ``damaged`` names the state files a run starting the list over could not read (they are retired);
    ``version`` is the newest version the list is known at, read or not (the next commit's base);
    ``retired`` names the intents the newest commit and those before it retired (their files may be gone,
    or not yet: either way they are accounted for in the snapshot, and not read again).
    """

    snapshot: Snapshot | None
    intents: list[Intent]
    damaged: tuple[str, ...] = ()
    version: int | None = None
    retired: tuple[str, ...] = ()


class ListLease:
    """A run's fenced lease on one member list: the only way its state changes.

    :param starting_over: the run replaces the whole list (``replace``): damaged history does not stop it.
    """

    def __init__(
        self, store: SnapshotStore, key: SnapshotKey, owner: str, lease: float, *, starting_over: bool = False
    ) -> None:
        self.store = store
        self.key = key
        self.owner = owner
        self.lease = lease
        self.starting_over = starting_over
        self.fence = self._acquire()
        self._writing = threading.Lock()
        self._beat = time.monotonic()
        self._failure: BaseException | None = None
        self._retired_before: tuple[str, ...] = ()
        self._stop = threading.Event()
        self._heartbeat = threading.Thread(target=self._renew, name="criteo-lease-heartbeat", daemon=True)
        self._heartbeat.start()

    @property
    def where(self) -> str:
        """The list, for messages."""
        return list_name(self.key)

    # ------------------------------------------------------------------------------- the lease

    def _acquire(self) -> Fence:
        store, key, now = self.store, self.key, time.time()
        names = store.names(key)
        self._refuse_legacy_lock(names, now)
        tokens = fence_tokens(names)
        newest = self._read_fence(tokens[-1]) if tokens else None
        if newest is not None and not newest.released:
            self._refuse_live(newest.owner, now - newest.heartbeat)
        if newest is None:  # the list's first lease: adopt what is on disk (a new list, or 0.1's state)
            versions = store.versions(names)
            fence = Fence(
                self.owner, tokens[-1] + 1 if tokens else 1, now, version=versions[-1] if versions else None
            )
            fence.intents = dict.fromkeys(store.intent_names(names), 0)
        else:
            fence = Fence(
                self.owner, newest.token + 1, now, version=newest.version, intents=dict(newest.intents)
            )
        if not store.create_exclusive(key, fence_name(fence.token), fence.to_bytes()):
            raise AudienceLockedError(
                f"Another run took the lease on {self.where} at the same moment. This run sent nothing."
            )
        store.write_atomic(key, LEGACY_LOCK, _legacy_lock(self.owner))
        for old in tokens[:-KEEP_FENCES]:
            store.remove(key, fence_name(old))
        store.remove_temporary(key)
        store.make_private(key)
        return fence

    def _read_fence(self, token: int) -> Fence | None:
        try:
            return Fence.from_bytes(
                self.store.read(self.key, fence_name(token)), f"{self.where}, lease {token}"
            )
        except SnapshotCorruptError:
            if self.starting_over:
                return None
            raise

    def _refuse_legacy_lock(self, names: list[str], now: float) -> None:
        """A live lock file of another owner (a 0.1 worker's, or one a holder wrote for them) keeps out."""
        if LEGACY_LOCK not in names:
            return
        try:
            held = json.loads(self.store.read(self.key, LEGACY_LOCK))
            owner, age = held["owner"], now - float(held["heartbeat"])
        except (ValueError, KeyError, TypeError, FileNotFoundError):
            return
        self._refuse_live(owner, age)

    def _refuse_live(self, owner: str, age: float) -> None:
        """Refuse the list while another owner's lease on it is live (its heartbeat younger than the lease).

        Lease ages compare the wall clocks of the machines involved: keep them in sync (NTP).
        """
        if owner != self.owner and age < self.lease:
            raise AudienceLockedError(
                f"Another export of this audience is running ({owner}, heartbeat {age:.0f}s ago). This run "
                f"sent nothing; retry after it finishes (an abandoned lease expires after {self.lease:.0f}s)."
            )

    def _write_fence(self) -> None:
        """Write this run's fence; and 0.1's lock, unless a newer fence took the list over meanwhile."""
        with self._writing:
            self.fence.heartbeat = time.time()
            self.store.write_atomic(self.key, fence_name(self.fence.token), self.fence.to_bytes())
            if fence_tokens(self.store.names(self.key))[-1:] == [self.fence.token]:
                self.store.write_atomic(self.key, LEGACY_LOCK, _legacy_lock(self.owner))
            self._beat = time.monotonic()

    def _renew(self) -> None:
        """Renew the lease until released; stop, for :meth:`check` to report, once it cannot or is lost."""
        while not self._stop.wait(self.lease / 5):
            try:
                self._check_newest()  # a run taken over must not renew the lock file 0.1 reads
                self._write_fence()
            except LeaseLostError as err:
                self._failure = err
                return
            except BaseException as err:  # a full volume, a lost mount: the run must learn of it
                self._failure = LeaseLostError(
                    f"This run stopped sending: its lease on {self.where} could not be renewed "
                    f"({type(err).__name__}: {err}). Another run may take the list over; what this run "
                    "sent is in its intent, which the next run folds in."
                )
                return

    def check(self) -> None:
        """Fail unless this run still holds the list: before every request that changes it, and at commit."""
        if self._failure is not None:
            raise self._failure
        lapsed = time.monotonic() - self._beat
        if lapsed > self.lease:
            raise LeaseLostError(
                f"This run stopped sending: its lease on {self.where} lapsed ({lapsed:.0f}s without a "
                f"heartbeat, over {self.lease:.0f}s: was the worker paused?). What it sent is in its intent, "
                "which the next run folds in."
            )
        self._check_newest()

    def _check_newest(self) -> None:
        """Fail unless this run's fence is still the list's newest."""
        newest = fence_tokens(self.store.names(self.key))
        if not newest or newest[-1] != self.fence.token:
            taker = f"lease {newest[-1]}" if newest else "a person who deleted the lease"
            raise LeaseLostError(
                f"This run stopped sending: {self.where} was taken over ({taker}; this run held lease "
                f"{self.fence.token}). What it sent is in its intent, which the next run folds in."
            )

    def release(self) -> None:
        """Stop renewing; let the next run in at once, unless the lease was lost meanwhile."""
        self._stop.set()
        self._heartbeat.join()
        with contextlib.suppress(LeaseLostError):
            self.check()
            self.fence.released = True
            self._write_fence()
            self.store.remove(self.key, LEGACY_LOCK)

    # ------------------------------------------------------------------------------- the state

    def history(self) -> History:
        """The list's committed snapshot and pending intents, as the newest fence names them.

        A snapshot or intent the fence names that is missing or damaged is refused, unless the run starts
        the list over; an intent on disk the fence does not name (a run died recording it) is folded in.
        """
        history = read_history(self.store, self.key, self.fence, starting_over=self.starting_over)
        self._retired_before = history.retired
        with self._writing:
            for name in history.retired:
                self.fence.intents.pop(name, None)
            for intent in history.intents:
                self.fence.intents.setdefault(intent.name, 0)
        return history

    def record_intent(self, adds: Keys, removes: Keys) -> str:
        """Durably record what this run is about to change, before its first request; return its name."""
        self.check()
        name = self.store.new_intent_name()
        self.store.write_atomic(self.key, name, encoded({"adds": adds, "removes": removes}))
        with self._writing:
            self.fence.intents[name] = 0
        self._write_fence()
        return name

    def commit(
        self,
        members: Keys,
        *,
        expected_version: int | None,
        encoding: str | None = None,
        refused: int | None = None,
        own_intent: str | None = None,
        folded: Sequence[str] = (),
        retire: Sequence[str] = (),
    ) -> int:
        """Commit ``members`` as the version after ``expected_version``, unless another run did first.

        ``own_intent`` is retired; each intent in ``folded`` counts one more fold, and is retired at its
        second; ``retire`` names intents (and damaged files) this commit makes moot at once (a wipe).
        """
        self.check()
        version = (expected_version or 0) + 1
        with self._writing:
            gone = [*retire, *([own_intent] if own_intent else [])]
            gone += [name for name in folded if self.fence.intents.get(name, -1) + 1 >= FOLDS_TO_RETIRE]
        remembered = [name for name in self._retired_before if name not in gone][-RETIRED_REMEMBERED:]
        meta: dict[str, Any] = {"committed_at": time.time(), "retired": [*remembered, *sorted(set(gone))]}
        if encoding is not None:
            meta["encoding"] = encoding
        if refused is not None:
            meta["refused"] = refused
        if not self.store.create_exclusive(
            self.key, self.store.version_name(version), encoded({"members": members}, **meta)
        ):
            raise SnapshotConflictError(
                f"Another run committed version {version} of {self.where} first. What this run sent is in "
                "its intent, and the other run's commit names what it retired; the next run folds them in."
            )
        with self._writing:
            self.fence.version = version
            for name in folded:
                if name in self.fence.intents:
                    self.fence.intents[name] += 1
            for name in gone:
                self.fence.intents.pop(name, None)
        self._write_fence()
        for name in gone:
            self.store.remove(self.key, name)
        for old in self.store.versions(self.store.names(self.key))[:-KEEP_VERSIONS]:
            self.store.remove(self.key, self.store.version_name(old))
        return version

    def forget(self, keys: Keys, history: History) -> None:
        """Remove erased people's keys from the list's snapshot, and from what intents may have removed.

        Run after Criteo removed them; ``history`` is this lease's :meth:`history`, read before. The
        intents' adds stay: a late request of their run may still add the people, and the next mirror
        run then removes them again.
        """
        if history.snapshot is not None:
            kept = difference(history.snapshot.digests, keys, self.store.spilling, "kept")
            self.commit(
                kept,
                expected_version=history.snapshot.version,
                encoding=history.snapshot.encoding,
                refused=history.snapshot.refused,
            )
        for intent in history.intents:  # its adds stay: a late request of that run may still add them
            self.check()
            removes = difference(intent.removes, keys, self.store.spilling, "removes")
            self.store.write_atomic(self.key, intent.name, encoded({"adds": intent.adds, "removes": removes}))


def read_history(
    store: SnapshotStore, key: SnapshotKey, fence: Fence | None, *, starting_over: bool = False
) -> History:
    """A list's committed snapshot and pending intents, as ``fence`` (the newest) names them.

    Without a fence (a list never leased by this version), what is on disk. What the fence names but is
    missing or damaged raises, unless the run starts the list over (it is then listed as damaged).
    """
    names = store.names(key)
    where = list_name(key)
    damaged: list[str] = []

    def damage(name: str, problem: str) -> None:
        if not starting_over:
            raise SnapshotCorruptError(problem if SAFE_REPAIR in problem else f"{problem} {SAFE_REPAIR}")
        damaged.append(name)

    versions = store.versions(names)
    expected = fence.version if fence is not None else None
    newest = versions[-1] if versions else None
    snapshot = None
    if expected is not None and expected not in versions and (newest is None or newest < expected):
        older = f" (version {newest} is older)" if newest else ""
        damage(store.version_name(expected), f"Snapshot version {expected} of {where} is missing{older}.")
    elif newest is not None:
        name = store.version_name(newest)  # newer than the fence says: committed, not yet recorded
        try:
            snapshot = store.read_snapshot(key, name, f"{where}, {name}", newest)
        except SnapshotCorruptError as err:
            damage(name, str(err))
    intents = []
    retired = snapshot.retired if snapshot is not None else ()
    listed = fence.intents if fence is not None else {}
    for name in sorted({*listed, *store.intent_names(names)}):
        if name in retired:
            continue  # a commit after this fence folded it in; its file may not be deleted yet
        if name not in names:
            damage(
                name,
                f"Intent {name} of {where} is missing: the run that recorded it may have changed the "
                "audience, and nothing else says how.",
            )
            continue
        try:
            intents.append(store.read_intent(key, name))
        except SnapshotCorruptError as err:
            damage(name, str(err))
    known = [v for v in (expected, newest) if v is not None]
    return History(snapshot, intents, tuple(damaged), max(known) if known else None, retired)


def peek(store: SnapshotStore, key: SnapshotKey) -> History:
    """A list's history read without a lease: what a dry run or a report sees."""
    tokens = fence_tokens(store.names(key))
    fence = None
    if tokens:
        where = f"{list_name(key)}, lease {tokens[-1]}"
        fence = Fence.from_bytes(store.read(key, fence_name(tokens[-1])), where)
    return read_history(store, key, fence)


class Leases:
    """A run's leases on several member lists of one audience."""

    def __init__(self, leases: Sequence[ListLease]) -> None:
        self.by_key = {lease.key: lease for lease in leases}

    def __getitem__(self, key: SnapshotKey) -> ListLease:
        return self.by_key[key]

    def check(self) -> None:
        """Fail unless this run still holds every list."""
        for lease in self.by_key.values():
            lease.check()


def lease_seconds() -> float:
    """How long a lease lasts without a heartbeat: ``[criteo] lease_seconds``, else 300 seconds."""
    from airflow.configuration import conf

    seconds = conf.getfloat("criteo", "lease_seconds", fallback=DEFAULT_LEASE_SECONDS)
    if not seconds > 0:  # NaN too
        raise CriteoConfigurationError(
            f"[criteo] lease_seconds must be a positive number of seconds, not {seconds}. Nothing was sent."
        )
    return seconds


@contextlib.contextmanager
def hold(
    store: SnapshotStore,
    keys: Iterable[SnapshotKey],
    owner: str,
    *,
    lease: float | None = None,
    starting_over: bool = False,
) -> Iterator[Leases]:
    """Hold fenced leases on member lists while a run reads their state, sends and commits.

    The same ``owner`` (a retry of the same task instance) takes its lists back at once, fencing out the
    try before it; a lease whose heartbeat is older than ``lease`` seconds is taken over.
    """
    held: list[ListLease] = []
    seconds = lease_seconds() if lease is None else lease
    try:
        for key in keys:
            held.append(ListLease(store, key, owner, seconds, starting_over=starting_over))
        yield Leases(held)
    finally:
        for lease_ in reversed(held):
            lease_.release()


def _legacy_lock(owner: str) -> bytes:
    """The lock file as versions 0.1 and earlier read it."""
    return json.dumps({"owner": owner, "heartbeat": time.time()}).encode()
