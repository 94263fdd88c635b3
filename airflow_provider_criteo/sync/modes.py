"""The sync modes and the choices a mirror run makes when its state or Criteo's count says to doubt."""

from __future__ import annotations

import enum


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
