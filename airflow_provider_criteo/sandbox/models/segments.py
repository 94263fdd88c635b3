"""Contact-list audience segments and their members, and every change a call or a test makes to them."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sandbox.checks import boolean
from airflow_provider_criteo.sandbox.problems import (
    advertiser_not_allowed,
    contact_list_read_only,
    name_taken,
    segment_not_found,
)

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airflow_provider_criteo.sandbox.models.apps import SandboxApp
    from airflow_provider_criteo.sandbox.problems import ApiProblem
    from airflow_provider_criteo.sandbox.validation import NewSegment, SearchFilters, SegmentUpdate

FIRST_SEGMENT_ID = 100_001


def utc_now() -> str:
    """The current time as an ISO-8601 UTC timestamp."""
    return datetime.now(UTC).isoformat()


@dataclass
class Segment:
    """A contact-list audience segment and its members, per identifier type."""

    id: int
    advertiser_id: str
    name: str
    description: str | None
    created_at: str
    updated_at: str
    members: dict[str, set[str]] = field(default_factory=dict)
    #: A contact list Criteo or a partner maintains: it takes no amendment and no wipe.
    read_only: bool = False

    def resource(self) -> dict[str, Any]:
        """The segment as the API shows it (an ``AudienceSegmentEntityV1Resource``)."""
        return {
            "id": str(self.id),
            "type": "AudienceSegment",
            "attributes": {
                "advertiserId": self.advertiser_id,
                "name": self.name,
                "description": self.description,
                "type": "ContactList",
                "createdAt": self.created_at,
                "updatedAt": self.updated_at,
                "contactList": {"isReadOnly": self.read_only},
            },
        }

    def member_count(self) -> int:
        """How many identifiers the segment holds, all types together."""
        return sum(len(values) for values in self.members.values())

    def amend(self, operation: str, identifier_type: str, identifiers: Iterable[str]) -> None:
        """Add or remove identifiers of one type, idempotently (a present member added is a no-op)."""
        members = self.members.setdefault(identifier_type, set())
        if operation == "add":
            members.update(identifiers)
        else:
            members.difference_update(identifiers)


#: What a bulk create / update / delete did, and its per-item failures (each pointing at its item).
BulkResult = tuple[list[Any], list["ApiProblem"]]


class AudienceSegments:
    """Every audience segment by id, guarded by ``lock``; each method takes the lock itself."""

    def __init__(self, lock: threading.RLock | None = None) -> None:
        """No segment yet; ``lock`` is shared with the state that owns the segments."""
        self._lock = lock or threading.RLock()
        self.by_id: dict[int, Segment] = {}
        self.next_id = FIRST_SEGMENT_ID

    def clear(self) -> None:
        """Forget every segment; ids start again at :data:`FIRST_SEGMENT_ID`."""
        with self._lock:
            self.by_id.clear()
            self.next_id = FIRST_SEGMENT_ID

    def load(self, segments: dict[int, Segment], next_id: int) -> None:
        """Replace every segment, and the id the next one gets."""
        with self._lock:
            self.by_id = segments
            self.next_id = next_id

    # -- the control surface ---------------------------------------------------------------------

    def new(self, advertiser_id: str, name: str, description: str | None) -> Segment:
        """Create a contact-list segment (the caller checked the name)."""
        with self._lock:
            now = utc_now()
            segment = Segment(self.next_id, advertiser_id, name, description, now, now)
            self.by_id[segment.id] = segment
            self.next_id += 1
            return segment

    def named(self, advertiser_id: str, name: str) -> Segment | None:
        """The advertiser's segment called ``name``, if any."""
        with self._lock:
            return next(
                (
                    segment
                    for segment in self.by_id.values()
                    if segment.advertiser_id == advertiser_id and segment.name == name
                ),
                None,
            )

    def resources(self, advertiser_id: str | None = None) -> list[dict[str, Any]]:
        """Segment resources as the API shows them, by id, optionally for one advertiser."""
        with self._lock:
            return [
                segment.resource()
                for _, segment in sorted(self.by_id.items())
                if advertiser_id is None or segment.advertiser_id == str(advertiser_id)
            ]

    def members(self, segment_id: int | str, identifier_type: str | None = None) -> set[str]:
        """The identifiers a segment holds (all types, or one); ``KeyError`` if it does not exist."""
        with self._lock:
            segment = self._existing(segment_id)
            if identifier_type is not None:
                return set(segment.members.get(identifier_type, ()))
            return set().union(*segment.members.values())

    def set_read_only(self, segment_id: int | str, read_only: bool = True) -> None:
        """Make a segment's contact list read-only (as one Criteo or a partner maintains), or writable."""
        boolean("read_only", read_only)
        with self._lock:
            self._existing(segment_id).read_only = read_only

    # -- what the API calls do -------------------------------------------------------------------

    def find(self, app: SandboxApp, filters: SearchFilters) -> list[dict[str, Any]]:
        """The segments ``app`` may see passing every filter, by id; 403 for a filter's foreign advertiser."""
        for advertiser_id in filters.advertiser_ids or ():
            if not app.may_use(advertiser_id):
                raise advertiser_not_allowed(advertiser_id)
        with self._lock:
            return [
                segment.resource()
                for _, segment in sorted(self.by_id.items())
                if app.may_use(segment.advertiser_id)
                and (filters.advertiser_ids is None or segment.advertiser_id in filters.advertiser_ids)
                and (filters.segment_types is None or "ContactList" in filters.segment_types)
                and (filters.segment_ids is None or str(segment.id) in filters.segment_ids)
            ]

    def create(self, app: SandboxApp, wanted: list[NewSegment]) -> BulkResult:
        """Create contact-list segments; a name the advertiser already uses is a failure, not a segment."""
        for new in wanted:
            if not app.may_use(new.advertiser_id):
                raise advertiser_not_allowed(new.advertiser_id)
        created, failures = [], []
        with self._lock:
            for index, new in enumerate(wanted):
                if self.named(new.advertiser_id, new.name) is not None:
                    failures.append(name_taken(new.advertiser_id, new.name, f"/data/{index}/attributes/name"))
                    continue
                created.append(self.new(new.advertiser_id, new.name, new.description).resource())
        return created, failures

    def update(self, app: SandboxApp, updates: list[SegmentUpdate]) -> BulkResult:
        """Rename / describe segments; unknown ids and taken names are failures."""
        updated, failures = [], []
        with self._lock:
            self._check_advertisers(app, [update.segment_id for update in updates])
            for index, update in enumerate(updates):
                segment = self.by_id.get(update.segment_id)
                if segment is None:
                    failures.append(segment_not_found(update.segment_id, f"/data/{index}/id"))
                    continue
                if update.name is not None and update.name != segment.name:
                    if self.named(segment.advertiser_id, update.name) is not None:
                        failures.append(
                            name_taken(segment.advertiser_id, update.name, f"/data/{index}/attributes/name")
                        )
                        continue
                    segment.name = update.name
                if update.description_set:
                    segment.description = update.description
                segment.updated_at = utc_now()
                updated.append(segment.resource())
        return updated, failures

    def delete(self, app: SandboxApp, segment_ids: list[int]) -> BulkResult:
        """Delete segments, answering their identifiers; unknown ids are failures."""
        deleted, failures = [], []
        with self._lock:
            self._check_advertisers(app, segment_ids)
            for index, segment_id in enumerate(segment_ids):
                if self.by_id.pop(segment_id, None) is None:
                    failures.append(segment_not_found(segment_id, f"/data/{index}/id"))
                else:
                    deleted.append({"id": str(segment_id), "type": "AudienceSegment"})
        return deleted, failures

    def amend(
        self, app: SandboxApp, segment_id: int, operation: str, identifier_type: str, identifiers: list[str]
    ) -> None:
        """Add or remove valid identifiers of a writable contact list, idempotently."""
        with self._lock:
            self._writable(app, segment_id).amend(operation, identifier_type, identifiers)

    def wipe(self, app: SandboxApp, segment_id: int) -> None:
        """Remove every member of a writable contact list."""
        with self._lock:
            self._writable(app, segment_id).members.clear()

    def member_count(self, app: SandboxApp, segment_id: int) -> int:
        """How many identifiers a segment ``app`` may use holds, all types together."""
        with self._lock:
            return self._owned(app, segment_id).member_count()

    # -- checks (the caller holds the lock) ------------------------------------------------------

    def _existing(self, segment_id: int | str) -> Segment:
        """A segment by id as a test names it (int or string); ``KeyError`` if it does not exist."""
        try:
            segment = self.by_id.get(int(segment_id))
        except ValueError:
            segment = None
        if segment is None:
            raise KeyError(f"no audience segment {segment_id}")
        return segment

    def _owned(self, app: SandboxApp, segment_id: int) -> Segment:
        """A segment of an advertiser ``app`` may use: 404 when it does not exist, else 403."""
        segment = self.by_id.get(segment_id)
        if segment is None:
            raise segment_not_found(segment_id)
        if not app.may_use(segment.advertiser_id):
            raise advertiser_not_allowed(segment.advertiser_id)
        return segment

    def _writable(self, app: SandboxApp, segment_id: int) -> Segment:
        """A segment whose members may change: a read-only contact list is refused (emulator choice: 403)."""
        segment = self._owned(app, segment_id)
        if segment.read_only:
            raise contact_list_read_only(segment_id)
        return segment

    def _check_advertisers(self, app: SandboxApp, segment_ids: list[int]) -> None:
        """Refuse a bulk call naming an existing segment of an advertiser ``app`` may not use."""
        for segment_id in segment_ids:
            segment = self.by_id.get(segment_id)
            if segment is not None and not app.may_use(segment.advertiser_id):
                raise advertiser_not_allowed(segment.advertiser_id)
