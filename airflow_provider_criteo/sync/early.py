"""Sending a new audience's members while the segment is still being read: each sorted run, intent first.

An audience this run created holds nobody, so every member is an add and the plan needs no history:
each sorted run of a member list can go as soon as it is on disk, while the rest of the segment is
read, and an export bound by Criteo's rate limit does not wait for its last row. Each run's intent (its
keys, as adds) is recorded before its first request, as every intent is; the commit, once every run
was sent and the segment read, retires them. A member in two runs is sent twice: amendments are
idempotent, and the summary counts each member once.
"""

from __future__ import annotations

import queue
import threading
from typing import TYPE_CHECKING

import numpy as np

from airflow_provider_criteo.sync.batches import amend
from airflow_provider_criteo.sync.results import EarlyResult

if TYPE_CHECKING:
    from airflow_provider_criteo.identifiers.forms import IdentifierForm
    from airflow_provider_criteo.segments.key_files import KeyFile
    from airflow_provider_criteo.sync.protocol import Leases
    from airflow_provider_criteo.sync.target import AudienceTarget

#: Runs waiting to be sent, at the most, before reading waits (their keys are on disk, not in memory).
QUEUED_RUNS = 1_000


class EarlySends:
    """A thread sending the sorted runs of a new audience's member lists, under the run's leases.

    The first failure stops the sending: it is raised in the reading thread at its next run, or by
    :meth:`join`, so that reading stops too.
    """

    def __init__(self, target: AudienceTarget, leases: Leases, batch_size: int) -> None:
        self.target = target
        self.leases = leases
        self._batch_size = batch_size
        self._queue: queue.Queue[tuple[IdentifierForm, KeyFile] | None] = queue.Queue(QUEUED_RUNS)
        self._sent: dict[tuple[str, str], EarlyResult] = {}
        self._error: BaseException | None = None
        self._cancelled = False
        self._forgotten = False
        self._thread = threading.Thread(target=self._send_all, name="criteo-early-sends", daemon=True)
        self._thread.start()

    def take(self, kind: IdentifierForm, run: KeyFile) -> None:
        """Queue a sorted run of one member list for sending (raises what stopped the sending)."""
        self._raise()
        self._queue.put((kind, run))

    def join(self) -> None:
        """Wait until every run queued was sent; raise what stopped the sending."""
        self.stop()
        self._raise()

    def stop(self, *, cancel: bool = False) -> None:
        """Send what is queued (or with ``cancel``, nothing more), then end the thread; what failed stays
        to raise."""
        self._cancelled = self._cancelled or cancel
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def forget(self) -> None:
        """What was sent so far is not the segment (the source is read again): its intents stay pending,
        for later runs to fold in, and the members are sent again once read."""
        self._forgotten = True

    def sent(self, kind: IdentifierForm) -> EarlyResult | None:
        """What was sent of one member list, the intents of its runs and how many identifiers they
        carried; None when none was (or what was sent was forgotten)."""
        return None if self._forgotten else self._sent.get((kind.name, kind.hashing))

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _send_all(self) -> None:
        while (item := self._queue.get()) is not None:
            if self._error is None and not self._cancelled and not self._forgotten:
                try:
                    self._send(*item)
                except BaseException as err:  # raised in the reading thread
                    self._error = err

    def _send(self, kind: IdentifierForm, run: KeyFile) -> None:
        target, leases = self.target, self.leases
        early = self._sent.setdefault((kind.name, kind.hashing), EarlyResult())
        lease = leases[target.key(kind)]
        early.intents.append(lease.record_intent(run, np.empty(0, dtype=run.dtype)))
        keys = kind.wire_lazily(run, self._batch_size)
        size = self._batch_size
        early.identifiers += amend(
            target, kind, "add", keys, early.result, batch_size=size, precondition=leases.check
        )
