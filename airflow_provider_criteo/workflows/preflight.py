"""Checks before any member data is sent: each failure says what to fix, each warning why it matters."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.exceptions import CriteoConfigurationError

if TYPE_CHECKING:
    from airflow_provider_criteo.hooks.criteo import CriteoHook
    from airflow_provider_criteo.identifiers.forms import Members


def check_consent(hook: CriteoHook, *, dry_run: bool, log: Any) -> None:
    """No member data leaves for Criteo before someone agreed to it on the connection."""
    if hook.config.data_transfer_consent:
        return
    if dry_run:
        log.warning(
            "Connection %r has no data transfer consent; a dry run sends nothing.", hook.criteo_conn_id
        )
        return
    raise CriteoConfigurationError(
        f"Connection {hook.criteo_conn_id!r} has not agreed to send customer data to Criteo: tick "
        "'I agree to send customer data to Criteo' on the connection (extra data_transfer_consent=true) "
        "once your data protection review allows it. Nothing was read or sent."
    )


def check_size(segment: str, members: Members, max_profiles: int | None) -> None:
    """Fail when an identifier type of the segment has more distinct members than ``max_profiles``."""
    if max_profiles is None:
        return
    by_type: dict[str, int] = {}
    for form, group in members:
        by_type[form.name] = by_type.get(form.name, 0) + len(group)
    for name, size in by_type.items():
        if size > max_profiles:
            what = "members" if len(by_type) == 1 else f"{name} members"
            raise CriteoConfigurationError(
                f"Segment {segment!r} has {size:,} distinct valid {what}, over "
                f"max_profiles={max_profiles:,}. Nothing was sent. Raise max_profiles (or set it to None) if "
                "this size is expected."
            )


def check_advertiser(hook: CriteoHook, advertiser_id: str) -> None:
    """Fail unless the app may act for ``advertiser_id`` (it is among ``advertisers/me``)."""
    available = [a.id for a in hook.list_advertisers()]
    if advertiser_id not in available:
        raise CriteoConfigurationError(
            f"Advertiser {advertiser_id} is not among the advertisers this Criteo app may use "
            f"({', '.join(available) or 'none'}). Fix advertiser_id, or ask the advertiser to grant the app "
            "consent in Criteo's developer portal. Nothing was sent."
        )


def warn_audience_cap(hook: CriteoHook, advertiser_id: str, max_audiences: int, log: Any) -> None:
    """Warn when creating one more audience would pass the advertiser's cap of audience segments."""
    count = sum(1 for _ in hook.search_audience_segments(advertiser_ids=[advertiser_id], segment_types=None))
    if count + 1 > max_audiences:
        log.warning(
            "Advertiser %s has %d audience segments; creating another passes Criteo's cap of about %d. "
            "Delete unused audiences (see the criteo_audience_offboarding example DAG).",
            advertiser_id,
            count,
            max_audiences,
        )


def warn_small_segment(segment: str, members: int, min_size: int, log: Any) -> None:
    """Warn when a segment is too small for Criteo to deliver to its audience."""
    if members < min_size:
        log.warning(
            "Segment %r has %d valid members, under %d: Criteo recommends at least %d matched members, "
            "and smaller audiences are not usable for delivery.",
            segment,
            members,
            min_size,
            min_size,
        )
