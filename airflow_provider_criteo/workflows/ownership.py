"""Which Criteo audiences this provider may change: a short tag in the audience's description.

``mirror`` and ``replace`` remove members, so they only touch audiences carrying the tag (or one
the user explicitly adopts): a typo in a name must not wipe a colleague's hand-built audience. And no
operation touches a contact list Criteo keeps read-only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.exceptions import CriteoConfigurationError
from airflow_provider_criteo.sync.modes import SyncMode
from airflow_provider_criteo.workflows.preflight import warn_audience_cap

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_criteo.client.resources import AudienceSegment
    from airflow_provider_criteo.hooks.criteo import CriteoHook
    from airflow_provider_criteo.sync.snapshots import SnapshotStore

_TAG = re.compile(r"\[managed by airflow-provider-criteo: ([^\]]*)\]")


def ownership_tag(dag_id: str, task_id: str) -> str:
    """The tag naming the DAG and task that manage an audience.

    ``/`` is in no DAG or task id, so no two tasks share a tag (dots are: ``a.b`` + ``c`` and ``a`` +
    ``b.c`` both read ``a.b.c`` in the form versions 0.1 and earlier wrote).
    """
    return f"[managed by airflow-provider-criteo: {dag_id}/{task_id}]"


def is_managed(description: str | None) -> bool:
    """Whether an audience description carries this provider's tag."""
    return bool(_TAG.search(description or ""))


def tagged(description: str, tag: str) -> str:
    """``description`` with ``tag`` (replacing any earlier tag)."""
    return f"{_TAG.sub('', description).strip()} {tag}".strip()


def owner_of(description: str | None) -> str | None:
    """The ``dag/task`` (or, as older versions wrote it, ``dag.task``) an audience's tag names, or None."""
    found = _TAG.search(description or "")
    return found.group(1) if found else None


def claim(
    hook: CriteoHook, audience: AudienceSegment, tag: str, *, adopt: bool, mode: str, dry_run: bool = False
) -> None:
    """Make sure a sync that removes members may touch ``audience``: it names this task, or is adopted.

    ``mirror`` and ``replace`` take only an audience whose tag names this DAG and task: another export's
    audience (a copied DAG, a typo in a name) is refused naming its owner. ``adopt`` takes it over (tags it).
    A tag in the older ``dag.task`` form that reads as this task's is rewritten in the current form.
    """
    owner, ours = owner_of(audience.description), owner_of(tag)
    if mode == SyncMode.ADD_ONLY or owner == ours:
        return
    legacy = ours is not None and owner == ours.replace("/", ".", 1)
    if not (adopt or legacy):
        whose = f"is managed by another export ({owner})" if owner else "was not created by this provider"
        raise CriteoConfigurationError(
            f"Audience {audience.name!r} (id {audience.id}) exists at Criteo and {whose}, and "
            f"sync_mode={mode!r} would remove members from it. Nothing was sent. If this audience is meant "
            "to mirror this segment, rerun with adopt_existing_audience=True; otherwise pick another "
            "audience_name."
        )
    if not dry_run:
        hook.update_audience_segment(audience.id, description=tagged(audience.description or "", tag))


def read_only_error(audiences: Sequence[AudienceSegment], outcome: str) -> CriteoConfigurationError:
    """The error for audiences whose contact lists are read-only at Criteo; ``outcome`` says what was done."""
    names = ", ".join(f"{audience.name!r} (id {audience.id})" for audience in audiences)
    return CriteoConfigurationError(
        f"Audience {names}: Criteo keeps the contact list read-only (contactList.isReadOnly: Criteo or a "
        f"partner maintains it), so it takes no amendment and no wipe. {outcome}"
    )


def take(
    hook: CriteoHook, audience: AudienceSegment, tag: str, *, adopt: bool, mode: str, dry_run: bool = False
) -> None:
    """Refuse, before anything is sent, an audience that is read-only at Criteo or not ours to change."""
    if audience.read_only:
        raise read_only_error([audience], "Nothing was sent. Export to another audience_name.")
    claim(hook, audience, tag, adopt=adopt, mode=mode, dry_run=dry_run)


def find_or_create(
    hook: CriteoHook,
    name: str,
    advertiser: str,
    tag: str,
    *,
    description: str,
    adopt: bool,
    mode: str,
    max_audiences: int,
    log: Any,
) -> tuple[AudienceSegment, bool]:
    """The audience ``name`` (checked to be ours to change) or, when missing, a new one tagged as ours.

    :return: the audience, and whether it was created.
    """
    audience = hook.find_contact_list_segment(name, advertiser_id=advertiser)
    created = False
    if audience is None:
        warn_audience_cap(hook, advertiser, max_audiences, log)
        audience, created = hook.get_or_create_contact_list_segment(
            name, advertiser_id=advertiser, description=tagged(description, tag)
        )
    if not created:
        take(hook, audience, tag, adopt=adopt, mode=mode)
    log.info(
        "%s Criteo audience %r (id %s) of advertiser %s.",
        "Created" if created else "Found",
        audience.name,
        audience.id,
        audience.advertiser_id,
    )
    return audience, created


def managed_audiences(hook: CriteoHook, store: SnapshotStore, advertiser: str) -> list[AudienceSegment]:
    """The advertiser's audiences this provider manages: tagged, or with snapshots in the store.

    The snapshots make up for a description Criteo leaves out (it is optional in its schema).
    """
    with_snapshots = set(store.audiences(advertiser))
    return [
        segment
        for segment in hook.search_audience_segments(advertiser_ids=[advertiser])
        if is_managed(segment.description) or segment.id in with_snapshots
    ]
