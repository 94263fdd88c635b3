"""Typed values for the Criteo resources the provider reads, parsed from JSON:API bodies.

Parsers raise ``KeyError``, ``TypeError`` or ``ValueError`` on a body that lacks what the
contract promises; the hook turns those into a ``CriteoResponseError`` that names the endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Criteo's documented cap of identifiers in one contact-list amendment.
MAX_IDENTIFIERS_PER_REQUEST = 50_000

#: The identifier types a contact-list amendment accepts.
IDENTIFIER_TYPES = frozenset({"email", "madid", "identityLink", "gum", "phoneNumber"})


def _required_str(mapping: dict[str, Any], key: str) -> str:
    value = mapping[key]
    if value is None:
        raise ValueError(f"field {key!r} is null")
    return str(value)


@dataclass(frozen=True)
class Advertiser:
    """An advertiser the Criteo app may act for (from ``advertisers/me``)."""

    id: str
    name: str | None

    @classmethod
    def from_resource(cls, resource: dict[str, Any]) -> Advertiser:
        """Parse one ``data`` item of ``GET /{version}/advertisers/me``."""
        attributes = resource.get("attributes") or {}
        return cls(id=_required_str(resource, "id"), name=attributes.get("advertiserName"))


@dataclass(frozen=True)
class AudienceSegment:
    """A Criteo audience segment, as search, create and update return it."""

    id: str
    advertiser_id: str
    name: str
    description: str | None
    type: str | None
    created_at: str | None
    updated_at: str | None

    @property
    def is_contact_list(self) -> bool:
        """Whether members can be added and removed through the contact-list endpoints."""
        return self.type == "ContactList"

    @classmethod
    def from_resource(cls, resource: dict[str, Any]) -> AudienceSegment:
        """Parse one ``AudienceSegment`` resource."""
        attributes = resource["attributes"]
        return cls(
            id=_required_str(resource, "id"),
            advertiser_id=_required_str(attributes, "advertiserId"),
            name=_required_str(attributes, "name"),
            description=attributes.get("description"),
            type=attributes.get("type"),
            created_at=attributes.get("createdAt"),
            updated_at=attributes.get("updatedAt"),
        )


@dataclass(frozen=True)
class AmendmentResult:
    """What Criteo counted for one or more contact-list amendments of one operation."""

    operation: str
    requests: int = 0
    valid: int = 0
    invalid: int = 0

    def plus_response(self, body: dict[str, Any]) -> AmendmentResult:
        """Add the counts of one ``ModifyAudienceResponse`` body."""
        attributes = body["data"]["attributes"]
        return AmendmentResult(
            operation=self.operation,
            requests=self.requests + 1,
            valid=self.valid + int(attributes["nbValidIdentifiers"]),
            invalid=self.invalid + int(attributes["nbInvalidIdentifiers"]),
        )


@dataclass(frozen=True)
class ContactListStatistics:
    """Size and match rate of a contact-list audience segment."""

    segment_id: str
    number_of_identifiers: int
    number_of_matches: int
    match_rate: float

    @classmethod
    def from_resource(cls, resource: dict[str, Any]) -> ContactListStatistics:
        """Parse the ``data`` of ``GET .../contact-list/statistics``."""
        attributes = resource["attributes"]
        return cls(
            segment_id=_required_str(resource, "id"),
            number_of_identifiers=int(attributes["numberOfIdentifiers"]),
            number_of_matches=int(attributes["numberOfMatches"]),
            match_rate=float(attributes["matchRate"] or 0.0),
        )
