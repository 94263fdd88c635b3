"""The erasure: forget people everywhere this provider sent them (GDPR erasure requests).

:class:`Erasure` is what the ``CriteoEraseOperator`` runs; it needs no operator.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.exceptions import AudienceLockedError, SnapshotCorruptError
from airflow_provider_criteo.sync.forgetting import Left, forget
from airflow_provider_criteo.workflows.history import append_audit
from airflow_provider_criteo.workflows.ownership import managed_audiences, read_only_error
from airflow_provider_criteo.workflows.people import people_of
from airflow_provider_criteo.workflows.workflow import Workflow

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True)
class ErasureOptions:
    """Where an erasure's audit row goes, and which advertiser it erases from (see the operator's parameters).

    :param audit_table: the table receiving the run's audit row (in ``audit_conn_id``, else the query's).
    """

    audit_table: str
    audit_conn_id: str | None = None
    advertiser_id: str | None = None


class Erasure(Workflow[ErasureOptions]):
    """One erasure run: the people ``query`` names, removed from every managed audience of the advertiser."""

    def _run(self) -> dict[str, Any]:
        """Forget the requested people; return what was done (counts and audience ids)."""
        options = self.options
        advertiser = self.hook.resolve_advertiser(options.advertiser_id)
        self.store.check_shared()
        read = self.query.read(log=self.log, what="erasure requests", derive=True)
        people = people_of(read)
        forgotten = [(list_.form, list_.keys, bool(len(list_.read))) for list_ in people]
        erased = []
        left: dict[Left, list[str]] = {reason: [] for reason in Left}
        read_only = []
        for audience in managed_audiences(self.hook, self.store, advertiser):
            if audience.read_only:  # Criteo says so: nothing is tried
                read_only.append(audience)
                continue
            outcome = forget(self.hook, self.store, advertiser, audience.id, forgotten, self.owner)
            reason = outcome[0] if outcome else None
            if reason is Left.READ_ONLY:  # Criteo did not say so, and refused the amendment
                read_only.append(audience)
                continue
            if outcome:
                left[outcome[0]].append(f"audience {audience.name!r} (id {audience.id}): {outcome[1]}")
            if reason is not Left.BUSY:
                erased.append(audience)
                self.log.info("Removed the people from audience %r (id %s).", audience.name, audience.id)
        digests = [digest for list_ in people for digest in list_.audit_digests()]
        record = {
            **self.run_identity,
            "advertiser_id": advertiser,
            "audience_ids": ",".join(a.id for a in erased),
            "audiences": len(erased),
            "identifiers": len(digests),
            "digests": json.dumps(digests),
        }
        append_audit(options.audit_conn_id or self.query.conn_id, options.audit_table, record)
        by_type: dict[str, int] = dict.fromkeys(self.query.columns, 0)
        for list_ in people:
            by_type[list_.form.name] += len(list_.read)
        self.log.info(
            "Erased %d identifiers from %d audiences of advertiser %s; audit row appended to %s.",
            len(digests),
            len(erased),
            advertiser,
            options.audit_table,
        )
        busy, damaged = left[Left.BUSY], left[Left.DAMAGED]
        if read_only:
            raise read_only_error(
                read_only,
                "The people could not be removed from it. Every other managed audience was erased and "
                "audited; ask Criteo, or the partner that maintains the list, to remove them."
                + "".join(
                    f" Also, {report}" for report in (_busy_report(busy), _damage_report(damaged)) if report
                ),
            )
        _raise_for(busy, damaged)
        return {
            "advertiser_id": advertiser,
            "identifiers": len(digests),
            "identifier_types": by_type,
            "rejected_by_reason": read.rejected_by_reason(),
            "audience_ids": [a.id for a in erased],
        }


def _raise_for(busy: Sequence[str], damaged: Sequence[str]) -> None:
    """Fail, once every other audience was erased and audited, naming those left and what to do."""
    if busy:
        damage = f" Also, {_damage_report(damaged)}" if damaged else ""
        raise AudienceLockedError(f"The people were removed and audited, but {_busy_report(busy)}.{damage}")
    if damaged:
        raise SnapshotCorruptError(f"The people were removed and audited, but {_damage_report(damaged)}")


def _busy_report(busy: Sequence[str]) -> str:
    """The audiences another run held, which the erasure left for its next run ("" when none)."""
    if not busy:
        return ""
    return (
        "not from these audiences, which another run held: run the erasure again once it is done (erasing "
        "twice is harmless): " + "; ".join(busy)
    )


def _damage_report(damaged: Sequence[str]) -> str:
    """What the erasure could not update of audiences whose mirror state is damaged ("" when none)."""
    if not damaged:
        return ""
    return (
        "their erasure from the mirror state of these audiences waits for its repair (the people are "
        "gone at Criteo; an export of the audience refuses to run meanwhile): " + "; ".join(damaged)
    )
