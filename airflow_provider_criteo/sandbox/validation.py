"""Hand-written checks of request bodies and parameters, strict where Criteo's schema is."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sandbox.problems import ApiProblem, parameter_error, validation_error

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

MAX_IDENTIFIERS = 50_000
MAX_INT32 = 2**31 - 1
SAMPLE_INVALID_LIMIT = 10
SHA256_SIZE = 32
OPERATIONS = ("add", "remove")
IDENTIFIER_TYPES = ("email", "madid", "identityLink", "gum", "phoneNumber")
SEGMENT_TYPES = (
    "Unknown",
    "InMarket",
    "Prospecting",
    "ContactList",
    "Location",
    "Behavioral",
    "Retargeting",
    "Lookalike",
)
OTHER_SEGMENT_KINDS = ("inMarket", "location", "lookalike", "prospecting", "retargeting", "behavioral")

# E-mails in the forms Criteo takes: a lower-case hex SHA-256 (or SHA-256 of MD5) digest, an MD5
# digest, or a plausible address ``local@domain.tld``; one request holds one form (emulator choice).
_EMAIL_FORMS = {
    "sha256": re.compile(r"[0-9a-f]{64}"),
    "md5": re.compile(r"[0-9a-f]{32}"),
    "address": re.compile(r"[^@\s]+@(?:[^@\s.]+\.)+[^@\s.\d]{2,}"),
}
_EMAIL = re.compile("|".join(pattern.pattern for pattern in _EMAIL_FORMS.values()))
# Phone numbers: Criteo's hashed phone number (SHA-256 hex), or a plain number as Criteo checks it: a
# leading + and at most 15 digits, no country code starting with 0.
_PHONE = re.compile(r"[0-9a-f]{64}|\+[1-9][0-9]{0,14}")
# Other identifier types: any string with a visible character.
_NON_BLANK = re.compile(r"\s*\S.*", re.DOTALL)
_ACCEPTS = {"email": _EMAIL, "phoneNumber": _PHONE}
_DIGITS = re.compile(r"[0-9]+")

_KINDS: dict[str, type | tuple[type, ...]] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
}


def get_field(
    container: Mapping[str, Any], key: str, pointer: str, kind: str, *, required: bool = False
) -> Any:
    """``container[key]`` checked to be of JSON ``kind``; ``None`` when absent and not required."""
    path = f"{pointer}/{key}"
    if key not in container:
        if required:
            raise validation_error(path, f"{path} is required.", code="required-field")
        return None
    value = container[key]
    if value is None:
        if required:
            raise validation_error(path, f"{path} is required.", code="required-field")
        raise validation_error(path, f"{path} must not be null.")
    if not isinstance(value, _KINDS[kind]) or (kind == "integer" and isinstance(value, bool)):
        raise validation_error(path, f"{path} must be of type {kind}.")
    return value


def get_enum(container: Mapping[str, Any], key: str, pointer: str, allowed: tuple[str, ...]) -> str:
    """A required string field whose value must be one of ``allowed``."""
    value: str = get_field(container, key, pointer, "string", required=True)
    if value not in allowed:
        raise validation_error(f"{pointer}/{key}", f"{pointer}/{key} must be one of {', '.join(allowed)}.")
    return value


def require_object(body: Any, pointer: str = "") -> dict[str, Any]:
    """The request body (or a part of it) checked to be a JSON object."""
    if not isinstance(body, dict):
        raise validation_error(pointer or "/", f"{pointer or 'The body'} must be a JSON object.")
    return body


def string_list(container: Mapping[str, Any], key: str, pointer: str) -> list[str] | None:
    """An optional, non-empty array of strings (an empty filter is refused: omit it instead)."""
    values: list[Any] | None = get_field(container, key, pointer, "array")
    if values is None:
        return None
    if not values:
        raise validation_error(f"{pointer}/{key}", f"{pointer}/{key} must not be empty; omit it instead.")
    for index, value in enumerate(values):
        if not isinstance(value, str):
            raise validation_error(f"{pointer}/{key}/{index}", f"{pointer}/{key}/{index} must be a string.")
    return values


def segment_id_string(value: Any, pointer: str) -> int:
    """A segment id sent in a body: a string of digits within int32."""
    if not isinstance(value, str):
        raise validation_error(pointer, f"{pointer} must be a string of digits.")
    if not _DIGITS.fullmatch(value) or int(value) > MAX_INT32:
        raise validation_error(pointer, f"{pointer} must be a numeric segment id.")
    return int(value)


def path_segment_id(value: str) -> int:
    """The numeric ``audience-segment-id`` path parameter."""
    if not _DIGITS.fullmatch(value) or int(value) > MAX_INT32:
        raise parameter_error("audience-segment-id", "audience-segment-id must be a numeric segment id.")
    return int(value)


def query_int(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An optional integer query parameter within ``[low, high]``."""
    raw = query.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"-?[0-9]+", raw):
        raise parameter_error(name, f"{name} must be an integer.")
    value = int(raw)
    if not low <= value <= high:
        raise parameter_error(name, f"{name} must be between {low} and {high}.", code="invalid-ranged")
    return value


def data_items(body: Any) -> list[dict[str, Any]]:
    """The ``data`` array of a bulk request, each item an object."""
    items: list[Any] = get_field(require_object(body), "data", "", "array", required=True)
    for index, item in enumerate(items):
        require_object(item, f"/data/{index}")
    return items


@dataclass(frozen=True)
class NewSegment:
    """One segment to create."""

    advertiser_id: str
    name: str
    description: str | None


def parse_create(body: Any) -> list[NewSegment]:
    """The segments an ``audience-segments/create`` body asks for (contact lists only)."""
    segments = []
    for index, item in enumerate(data_items(body)):
        pointer = f"/data/{index}"
        get_field(item, "type", pointer, "string")
        attributes = get_field(item, "attributes", pointer, "object", required=True)
        pointer += "/attributes"
        advertiser_id = get_field(attributes, "advertiserId", pointer, "string", required=True)
        name: str = get_field(attributes, "name", pointer, "string", required=True)
        _refuse_blank(name, pointer)
        description = get_field(attributes, "description", pointer, "string")
        get_field(attributes, "contactList", pointer, "object", required=True)
        for kind in OTHER_SEGMENT_KINDS:
            if kind in attributes:
                raise validation_error(
                    f"{pointer}/{kind}", "A segment has one kind; the sandbox creates contact-list segments."
                )
        segments.append(NewSegment(advertiser_id, name, description))
    return segments


@dataclass(frozen=True)
class SegmentUpdate:
    """One segment's new name and/or description (``description_set`` tells a null from absent)."""

    segment_id: int
    name: str | None
    description: str | None
    description_set: bool


def parse_update(body: Any) -> list[SegmentUpdate]:
    """The changes a ``PATCH audience-segments`` body asks for."""
    updates = []
    for index, item in enumerate(data_items(body)):
        pointer = f"/data/{index}"
        segment_id = segment_id_string(
            get_field(item, "id", pointer, "string", required=True), f"{pointer}/id"
        )
        get_field(item, "type", pointer, "string")
        attributes = get_field(item, "attributes", pointer, "object", required=True)
        pointer += "/attributes"
        name: str | None = get_field(attributes, "name", pointer, "string")
        _refuse_blank(name, pointer)
        nillable = get_field(attributes, "description", pointer, "object")
        description = None
        if nillable is not None and nillable.get("value") is not None:
            description = get_field(nillable, "value", f"{pointer}/description", "string")
        for kind in OTHER_SEGMENT_KINDS:
            if kind in attributes:
                raise validation_error(f"{pointer}/{kind}", "A contact-list segment has no such settings.")
        updates.append(SegmentUpdate(segment_id, name, description, nillable is not None))
    return updates


def parse_delete(body: Any) -> list[int]:
    """The segment ids an ``audience-segments/delete`` body names."""
    ids = []
    for index, item in enumerate(data_items(body)):
        pointer = f"/data/{index}"
        ids.append(
            segment_id_string(get_field(item, "id", pointer, "string", required=True), f"{pointer}/id")
        )
        get_field(item, "type", pointer, "string")
        get_field(item, "attributes", pointer, "object")
    return ids


@dataclass(frozen=True)
class SearchFilters:
    """The AND-ed filters of an ``audience-segments/search`` body (``None``: no filter)."""

    advertiser_ids: list[str] | None
    segment_types: list[str] | None
    segment_ids: list[str] | None


def parse_search(body: Any) -> SearchFilters:
    """The filters of a search body."""
    data = get_field(require_object(body), "data", "", "object") or {}
    get_field(data, "type", "/data", "string")
    attributes = get_field(data, "attributes", "/data", "object") or {}
    pointer = "/data/attributes"
    segment_types = string_list(attributes, "audienceSegmentTypes", pointer)
    for index, segment_type in enumerate(segment_types or ()):
        if segment_type not in SEGMENT_TYPES:
            raise validation_error(
                f"{pointer}/audienceSegmentTypes/{index}",
                f"audienceSegmentTypes must hold values among {', '.join(SEGMENT_TYPES)}.",
            )
    return SearchFilters(
        string_list(attributes, "advertiserIds", pointer),
        segment_types,
        string_list(attributes, "audienceSegmentIds", pointer),
    )


@dataclass(frozen=True)
class Amendment:
    """A checked ``ContactlistAmendment``."""

    operation: str
    identifier_type: str
    identifiers: list[str]
    gum_caller_id: int | None


def parse_amendment(body: Any) -> Amendment:
    """The amendment a ``PATCH .../contact-list`` body asks for; 400 or 413 when it cannot be applied."""
    data = get_field(require_object(body), "data", "", "object", required=True)
    get_field(data, "type", "/data", "string", required=True)
    attributes = get_field(data, "attributes", "/data", "object", required=True)
    pointer = "/data/attributes"
    operation = get_enum(attributes, "operation", pointer, OPERATIONS)
    identifier_type = get_enum(attributes, "identifierType", pointer, IDENTIFIER_TYPES)
    identifiers: list[Any] = get_field(attributes, "identifiers", pointer, "array", required=True)
    if not identifiers:
        raise validation_error(f"{pointer}/identifiers", "identifiers must not be empty.")
    if len(identifiers) > MAX_IDENTIFIERS:
        raise ApiProblem(
            413,
            "validation",
            "too-many-identifiers",
            "Too many identifiers",
            f"At most {MAX_IDENTIFIERS} identifiers per request, got {len(identifiers)}.",
            source={"pointer": f"{pointer}/identifiers"},
        )
    gum_caller_id = get_field(attributes, "gumCallerId", pointer, "integer")
    if identifier_type == "gum" and gum_caller_id is None:
        raise validation_error(
            f"{pointer}/gumCallerId",
            "gumCallerId is required with identifierType gum.",
            code="required-field",
        )
    if identifier_type != "gum" and gum_caller_id is not None:
        raise validation_error(
            f"{pointer}/gumCallerId", "gumCallerId is only allowed with identifierType gum."
        )
    return Amendment(operation, identifier_type, identifiers, gum_caller_id)


def split_identifiers(identifier_type: str, identifiers: list[Any]) -> tuple[list[str], list[str]]:
    """The valid and the invalid identifiers of a request; 400 if one is not a string, or if valid
    e-mails come in more than one form (addresses, MD5, SHA-256)."""
    if identifier_type == "email" and _all_sha256_hex(identifiers):
        return list(identifiers), []
    accepts: Callable[[str], Any] = _ACCEPTS.get(identifier_type, _NON_BLANK).fullmatch
    try:
        valid = list(filter(accepts, identifiers))
    except TypeError:
        index = next(i for i, value in enumerate(identifiers) if not isinstance(value, str))
        raise validation_error(
            f"/data/attributes/identifiers/{index}", "Every identifier must be a string."
        ) from None
    if identifier_type == "email":
        _check_one_form(valid)
    if len(valid) == len(identifiers):
        return valid, []
    return valid, [value for value in identifiers if not accepts(value)]


def _check_one_form(emails: list[str]) -> None:
    """Refuse a request whose valid e-mails mix forms: Criteo could not tell what each one is."""
    forms = {next(name for name, pattern in _EMAIL_FORMS.items() if pattern.fullmatch(e)) for e in emails}
    if len(forms) > 1:
        raise validation_error(
            "/data/attributes/identifiers",
            f"One request holds e-mails of one form; this one mixes {', '.join(sorted(forms))}.",
            code="mixed-identifier-forms",
        )


def _all_sha256_hex(identifiers: list[Any]) -> bool:
    """Whether every identifier is 64 lower-case hex digits (a hashed e-mail), checked in C at once.

    The common case of a hashed upload, several times faster than one regular expression match each.
    """
    size = 2 * SHA256_SIZE
    try:
        joined = "".join(identifiers)
    except TypeError:
        return False
    if (
        len(joined) != size * len(identifiers)
        or set(map(len, identifiers)) != {size}
        or joined.lower() != joined
    ):
        return False
    try:  # a 64-character string that is not hex, or holds whitespace, does not decode to 32 bytes
        return len(bytes.fromhex(joined)) == SHA256_SIZE * len(identifiers)
    except ValueError:
        return False


def _refuse_blank(name: str | None, pointer: str) -> None:
    if name is not None and not name.strip():
        raise validation_error(f"{pointer}/name", "name must not be blank.")
