"""Criteo's resources as the provider reads and sends them, in JSON:API bodies.

Typed values parsed from answers, the problems answers carry and their codes, and the bodies of
contact-list amendments. Criteo's OpenAPI marks almost every response field optional, and many
nullable: the parsers read only what the provider needs and take an absent or ``null`` field for "not
said". They raise ``KeyError``, ``TypeError`` or ``ValueError`` only when a body lacks what no answer
can do without (a resource's id); the transport turns those into a ``CriteoResponseError`` that names
the endpoint.
"""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import numpy as np

from airflow_provider_criteo.client.wire import hex_json_array
from airflow_provider_criteo.identifiers.values import DIGEST_DTYPE

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

    #: What an amendment sends: strings as they are, or raw SHA-256 digests (an array, or a stream).
    Identifiers: TypeAlias = "Iterable[str] | np.ndarray | DigestStream"

T = TypeVar("T")

#: Criteo's documented cap of identifiers in one contact-list amendment.
MAX_IDENTIFIERS_PER_REQUEST = 50_000

#: The identifier types a contact-list amendment accepts.
API_IDENTIFIER_TYPES = ("email", "phoneNumber", "madid", "identityLink", "gum")

#: Criteo's problem codes the provider acts on (an error's ``codes`` holds them).
NAME_MUST_BE_UNIQUE = "name-must-be-unique"
SEGMENT_NOT_FOUND = "segment-not-found"
CONTACT_LIST_READ_ONLY = "contact-list-read-only"
# Codes of warnings about the API itself, not about one item of a bulk call.
_DEPRECATION_CODES = frozenset({"deprecated-field", "endpoint-deprecated"})


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


def problems_of(envelope: dict[str, Any], *keys: str) -> list[dict[str, Any]]:
    """The problem objects under ``keys`` (``errors``, ``warnings``) of an envelope, null lists as empty."""
    found: list[dict[str, Any]] = []
    for key in keys:
        problems = envelope.get(key)
        if isinstance(problems, list):
            found.extend(p for p in problems if isinstance(p, dict))
    return found


def item_problems(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    """The failures of items of a bulk call, in ``errors`` or ``warnings`` (Criteo documents both)."""
    return [
        problem
        for problem in problems_of(envelope, "errors", "warnings")
        if problem.get("type") != "deprecation" and problem.get("code") not in _DEPRECATION_CODES
    ]


def trace_id_of(problem: dict[str, Any]) -> str | None:
    """A problem's trace id: ``traceId``, or the deprecated ``traceIdentifier`` some answers carry."""
    trace = problem.get("traceId") or problem.get("traceIdentifier")
    return None if trace is None else str(trace)


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


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Split any iterable into lists of at most ``size`` items, without materialising it."""
    iterator = iter(items)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk


@dataclass(frozen=True)
class DigestStream:
    """Raw SHA-256 digests that arrive as arrays (read from disk in chunks): sent as hex, like an array."""

    arrays: Iterable[np.ndarray]


def amendment_bodies(
    attributes: dict[str, Any], identifiers: Identifiers, batch_size: int
) -> Iterator[tuple[dict[str, Any] | bytes, int]]:
    """The bodies of an amendment's requests (dicts to encode, or JSON bytes for digests), each with how
    many identifiers it carries."""
    if isinstance(identifiers, np.ndarray) and identifiers.dtype == np.dtype(DIGEST_DTYPE):
        identifiers = DigestStream([identifiers])
    if not isinstance(identifiers, DigestStream):
        for batch in chunked(identifiers, batch_size):
            body = {
                "data": {"type": "ContactlistAmendment", "attributes": {**attributes, "identifiers": batch}}
            }
            yield body, len(batch)
        return
    # The envelope as json.dumps writes it, split where the identifier array goes (its last value).
    envelope = {"data": {"type": "ContactlistAmendment", "attributes": {**attributes, "identifiers": []}}}
    head, _, tail = json.dumps(envelope, separators=(",", ":")).rpartition("[]")
    for array in identifiers.arrays:
        for start in range(0, len(array), batch_size):
            digests = array[start : start + batch_size]
            yield b"".join((head.encode(), hex_json_array(digests), tail.encode())), len(digests)
