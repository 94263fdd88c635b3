"""Sending one operation of a member list in amendment batches, with its progress and Criteo's counts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.identifiers.values import given_hashing
from airflow_provider_criteo.progress import Progress

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_criteo.client.resources import AmendmentResult, Identifiers
    from airflow_provider_criteo.identifiers.forms import IdentifierForm
    from airflow_provider_criteo.sync.results import SyncResult
    from airflow_provider_criteo.sync.target import AudienceTarget


def amend(
    target: AudienceTarget,
    kind: IdentifierForm,
    operation: str,
    identifiers: Identifiers,
    result: SyncResult,
    *,
    batch_size: int,
    precondition: Callable[[], None],
) -> int:
    """Send one operation in batches of ``batch_size``, logging progress; return the count sent.

    ``identifiers`` are as the hook sends them (``IdentifierForm.wire_lazily`` makes them of keys).
    ``precondition`` runs before each request, retries included: a run that lost its leases stops at once.
    """
    log = target.log
    progress = Progress(log, f"{operation} {kind.label} to audience {target.audience_id}", "identifiers")
    sent = batches = 0

    def sent_one(amendment: AmendmentResult, count: int) -> None:
        nonlocal sent, batches
        result.count(amendment)
        _note_refused(log, kind, operation, amendment)
        sent, batches = sent + count, batches + 1
        progress.update(sent, f"batch {batches}")

    target.hook.amend_contact_list(
        target.audience_id,
        operation,
        identifiers,
        identifier_type=kind.name,
        batch_size=batch_size,
        precondition=precondition,
        on_request=sent_one,
    )
    return sent


def _note_refused(log: Any, kind: IdentifierForm, operation: str, amendment: AmendmentResult) -> None:
    """Warn when Criteo counted identifiers of a batch as invalid: we sent them as valid."""
    if not amendment.invalid:
        return
    samples = [s for s in amendment.sample_invalid if given_hashing(s.lower())]
    log.warning(
        "Criteo counted %d of the %s identifiers of this %s batch as invalid, which this export "
        "counted valid%s.",
        amendment.invalid,
        kind.label,
        operation,
        f" (samples, digests only: {', '.join(samples)})" if samples else "",
    )
