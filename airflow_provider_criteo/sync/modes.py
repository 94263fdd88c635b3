"""The sync modes and the safety settings of a sync: doubt in its state, the removal guard, batches."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from airflow_provider_criteo.client.resources import MAX_IDENTIFIERS_PER_REQUEST
from airflow_provider_criteo.exceptions import CriteoConfigurationError


class SyncMode(enum.StrEnum):
    """How an export brings an audience to its segment."""

    #: Send only who joined and who left since the last commit: the audience holds exactly the segment.
    MIRROR = "mirror"
    #: Add every member, remove nothing.
    ADD_ONLY = "add_only"
    #: Wipe the audience, then add every member (empty in between).
    REPLACE = "replace"


class OnMissingState(enum.StrEnum):
    """What ``mirror`` does with an existing audience that has no history."""

    REPLACE = "replace"
    ADD_ONLY = "add_only"


class OnDrift(enum.StrEnum):
    """What ``mirror`` does when Criteo's count is outside what the state allows."""

    WARN = "warn"
    REPLACE = "replace"


SYNC_MODES = tuple(mode.value for mode in SyncMode)
ON_MISSING_STATE = tuple(choice.value for choice in OnMissingState)
ON_DRIFT = tuple(choice.value for choice in OnDrift)
#: The share of an audience one mirror run may remove without ``allow_large_removal``.
DEFAULT_MAX_REMOVAL_FRACTION = 0.5
#: Identifiers per amendment request unless told otherwise: the most Criteo takes in one.
DEFAULT_BATCH_SIZE = MAX_IDENTIFIERS_PER_REQUEST


def check_sync_mode(value: object) -> None:
    """Refuse a sync mode that is not one of :class:`SyncMode`'s (a rendered template can be anything)."""
    if value not in SYNC_MODES:
        raise CriteoConfigurationError(f"sync_mode must be one of {', '.join(SYNC_MODES)}; not {value!r}.")


@dataclass(frozen=True)
class SyncPolicy:
    """The safety settings of a sync, checked when they are set.

    :param on_missing_state: what mirror does with an existing audience that has no snapshot:
        ``"replace"`` (wipe, then add: exact at once) or ``"add_only"`` (add; older members stay).
    :param max_removal_fraction: mirror refuses to remove more than this share of the audience.
    :param allow_large_removal: lift that guard (and the one against an empty segment).
    :param batch_size: identifiers per amendment request (Criteo takes at most 50,000).
    :param on_drift: what mirror does when Criteo's count of the audience is outside what its state
        allows: ``"warn"`` (report it; Criteo's counts lag behind recent uploads, so a default must not
        wipe on lag) or ``"replace"`` (wipe, then add the segment: exact at once).
    :raises ValueError: for a setting out of its range.
    """

    on_missing_state: str = OnMissingState.REPLACE
    max_removal_fraction: float = DEFAULT_MAX_REMOVAL_FRACTION
    allow_large_removal: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    on_drift: str = OnDrift.WARN

    def __post_init__(self) -> None:
        if self.on_missing_state not in ON_MISSING_STATE:
            raise ValueError(
                f"on_missing_state must be one of {ON_MISSING_STATE}, not {self.on_missing_state!r}."
            )
        if self.on_drift not in ON_DRIFT:
            raise ValueError(f"on_drift must be one of {ON_DRIFT}, not {self.on_drift!r}.")
        if not 1 <= self.batch_size <= MAX_IDENTIFIERS_PER_REQUEST:
            raise ValueError(f"batch_size must be between 1 and {MAX_IDENTIFIERS_PER_REQUEST:,}.")
        if not 0 <= self.max_removal_fraction <= 1:
            raise ValueError("max_removal_fraction must be between 0 and 1.")
