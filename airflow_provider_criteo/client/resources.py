"""Typed values for the Criteo resources the provider reads, parsed from JSON:API bodies.

Criteo's OpenAPI marks almost every response field optional, and many nullable: the parsers read only
what the provider needs and take an absent or ``null`` field for "not said". They raise ``KeyError``,
``TypeError`` or ``ValueError`` only when a body lacks what no answer can do without (a resource's
id); the hook turns those into a ``CriteoResponseError`` that names the endpoint.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

#: Criteo's documented cap of identifiers in one contact-list amendment.
MAX_IDENTIFIERS_PER_REQUEST = 50_000

#: The identifier types a contact-list amendment accepts.
API_IDENTIFIER_TYPES = ("email", "phoneNumber", "madid", "identityLink", "gum")


def _required_str(mapping: dict[str, Any], key: str) -> str:
    value = mapping[key]
    if value is None:
        raise ValueError(f"field {key!r} is null")
    return str(value)


def attributes_of(resource: Any) -> dict[str, Any]:
    """A resource's ``attributes``, empty when absent or null (the schema allows both)."""
    if not isinstance(resource, dict):
        raise TypeError(f"a resource is a JSON object, not {type(resource).__name__}")
    attributes = resource.get("attributes")
    return attributes if isinstance(attributes, dict) else {}


def data_list(body: dict[str, Any]) -> list[Any]:
    """An envelope's ``data`` array, empty when absent or null."""
    data = body.get("data")
    if data is None:
        return []
    if not isinstance(data, list):
        raise TypeError(f"data is a JSON array, not {type(data).__name__}")
    return data


def optional_int(value: Any) -> int | None:
    """A count Criteo may leave out or send as null; None then."""
    number = _optional_number(value, "count")
    return None if number is None else int(number)


def optional_float(value: Any) -> float | None:
    """A rate Criteo may leave out or send as null; None then."""
    return _optional_number(value, "rate")


def _optional_number(value: Any, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"a {what} is a number, not {value!r}")
    return float(value)


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class Advertiser:
    """An advertiser the Criteo app may act for (from ``advertisers/me``)."""

    id: str
    name: str | None

    @classmethod
    def from_resource(cls, resource: dict[str, Any]) -> Advertiser:
        """Parse one ``data`` item of ``GET /{version}/advertisers/me``."""
        return cls(id=_required_str(resource, "id"), name=attributes_of(resource).get("advertiserName"))


@dataclass(frozen=True)
class AudienceSegment:
    """A Criteo audience segment, as search, create and update return it (fields not sent are None).

    :param read_only: ``contactList.isReadOnly``: a contact list Criteo or a partner maintains takes no
        amendment and no wipe (None when Criteo did not say).
    """

    id: str
    advertiser_id: str | None
    name: str | None
    description: str | None
    type: str | None
    created_at: str | None = None
    updated_at: str | None = None
    read_only: bool | None = None

    @property
    def is_contact_list(self) -> bool:
        """Whether members can be added and removed through the contact-list endpoints."""
        return self.type == "ContactList"

    @classmethod
    def from_resource(cls, resource: dict[str, Any]) -> AudienceSegment:
        """Parse one ``AudienceSegment`` resource; only its id is required."""
        attributes = attributes_of(resource)
        contact_list = attributes.get("contactList")
        read_only = contact_list.get("isReadOnly") if isinstance(contact_list, dict) else None
        return cls(
            id=_required_str(resource, "id"),
            advertiser_id=_optional_str(attributes.get("advertiserId")),
            name=_optional_str(attributes.get("name")),
            description=attributes.get("description"),
            type=attributes.get("type"),
            created_at=attributes.get("createdAt"),
            updated_at=attributes.get("updatedAt"),
            read_only=read_only if isinstance(read_only, bool) else None,
        )

    def has_attributes(self) -> bool:
        """Whether the answer described the segment, or gave its id only (create "returns their IDs")."""
        return self.name is not None or self.advertiser_id is not None


@dataclass(frozen=True)
class AmendmentResult:
    """What Criteo counted for one or more contact-list amendments of one operation.

    ``valid`` and ``invalid`` are None unless every answer carried them (they are optional and nullable
    in Criteo's schema); ``sample_invalid`` gathers Criteo's samples of invalid identifiers.
    """

    operation: str
    requests: int = 0
    valid: int | None = None
    invalid: int | None = None
    sample_invalid: tuple[str, ...] = field(default=())

    def plus(self, other: AmendmentResult) -> AmendmentResult:
        """The counts of these amendments and ``other``'s, of the same operation."""
        first = self.requests == 0
        return AmendmentResult(
            operation=self.operation,
            requests=self.requests + other.requests,
            valid=plus_count(self.valid, other.valid, first=first),
            invalid=plus_count(self.invalid, other.invalid, first=first),
            sample_invalid=self.sample_invalid + other.sample_invalid,
        )

    def plus_response(self, body: dict[str, Any]) -> AmendmentResult:
        """Add the counts of one ``ModifyAudienceResponse`` body.

        The schema requires ``data.attributes.operation`` and nothing else: an answer without it is not
        Criteo's (a proxy's empty 200 is not an applied amendment) and raises; the counts may be absent.
        """
        attributes = body["data"]["attributes"]
        if not isinstance(attributes, dict) or attributes.get("operation") is None:
            raise KeyError("data.attributes.operation")
        samples = attributes.get("sampleInvalidIdentifiers")
        answer = AmendmentResult(
            operation=self.operation,
            requests=1,
            valid=optional_int(attributes.get("nbValidIdentifiers")),
            invalid=optional_int(attributes.get("nbInvalidIdentifiers")),
            sample_invalid=tuple(str(s) for s in (samples if isinstance(samples, list) else ())),
        )
        return self.plus(answer)


def plus_count(total: int | None, count: int | None, *, first: bool) -> int | None:
    """A running sum of counts Criteo may leave out: unknown (None) once one of them is, since a sum of
    some answers' counts would pass for all of them. ``first``: ``count`` is the first one."""
    if first:
        return count
    return None if total is None or count is None else total + count


@dataclass(frozen=True)
class ContactListStatistics:
    """Size and match rate of a contact-list audience segment; None where Criteo has not computed them.

    Matching is asynchronous at Criteo: a list it has not processed yet answers null. ``match_rate`` is
    Criteo's ``matchRate`` as sent (the sandbox sends a fraction, 0 to 1; Criteo calls it a percentage).
    """

    segment_id: str | None
    number_of_identifiers: int | None
    number_of_matches: int | None
    match_rate: float | None

    @classmethod
    def from_resource(cls, resource: Any) -> ContactListStatistics:
        """Parse the ``data`` of ``GET .../contact-list/statistics`` (itself nullable)."""
        attributes = attributes_of(resource) if resource is not None else {}
        return cls(
            segment_id=_optional_str(resource.get("id")) if isinstance(resource, dict) else None,
            number_of_identifiers=optional_int(attributes.get("numberOfIdentifiers")),
            number_of_matches=optional_int(attributes.get("numberOfMatches")),
            match_rate=optional_float(attributes.get("matchRate")),
        )
