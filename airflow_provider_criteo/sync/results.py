"""What a sync did (or, in a dry run, would do) with an audience, by member list: values for the summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from airflow_provider_criteo.client.resources import plus_count

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_criteo.client.resources import AmendmentResult
    from airflow_provider_criteo.sync.drift import Drift
    from airflow_provider_criteo.sync.list_plan import ListPlan


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


@dataclass
class AudienceResult:
    """What a sync did (or would do) with an audience: by member list (type, hashing), and the wipe."""

    by_form: dict[tuple[str, str], SyncResult] = field(default_factory=dict)
    wiped: bool = False
    #: Requests that belong to no one list (the wipe).
    requests: int = 0
    #: What Criteo's count said before the run, when it could be compared.
    drift: Drift | None = None

    @property
    def added(self) -> int:
        """Members added (or to add) over every list."""
        return sum(done.added for done in self.by_form.values())

    @property
    def removed(self) -> int:
        """Members removed (or to remove) over every list."""
        return sum(done.removed for done in self.by_form.values())

    @classmethod
    def planned(cls, plans: Sequence[ListPlan], drift: Drift | None) -> AudienceResult:
        """What a run of these plans would do: a dry run's result."""
        result = cls(wiped=any(plan.wipe for plan in plans), drift=drift)
        for plan in plans:
            added = len(plan.members) if plan.members.keys is None else len(plan.adds)
            result.by_form[plan.kind.name, plan.kind.hashing] = SyncResult(
                added=added, removed=len(plan.removes), unchanged=len(plan.members) - added
            )
        return result


@dataclass
class EarlyResult:
    """What was sent of one member list while it was read: requests and counts, its runs' intents, and
    how many identifiers the runs carried (more than the list's members when some were in two runs)."""

    result: SyncResult = field(default_factory=SyncResult)
    intents: list[str] = field(default_factory=list)
    identifiers: int = 0
