"""CriteoHook: credentials and typed calls for Criteo's Marketing Solutions audience API."""

from __future__ import annotations

import dataclasses
from functools import cached_property
from typing import TYPE_CHECKING, Any

import requests
from airflow.sdk import BaseHook
from airflow.sdk.log import mask_secret

from airflow_provider_criteo import __version__
from airflow_provider_criteo.client.resources import (
    API_IDENTIFIER_TYPES,
    MAX_IDENTIFIERS_PER_REQUEST,
    NAME_MUST_BE_UNIQUE,
    SEGMENT_NOT_FOUND,
    Advertiser,
    AmendmentResult,
    AudienceSegment,
    ContactListStatistics,
    amendment_bodies,
    attributes_of,
    data_list,
    item_problems,
)
from airflow_provider_criteo.client.retry import RetryPolicy
from airflow_provider_criteo.client.transport import CriteoTransport
from airflow_provider_criteo.defaults import CONN_TYPE, DEFAULT_CALLS_PER_MINUTE, DEFAULT_CONN_ID
from airflow_provider_criteo.exceptions import CriteoApiError, CriteoConfigurationError, CriteoResponseError
from airflow_provider_criteo.hooks.connection import CriteoConnectionConfig

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from airflow_provider_criteo.client.resources import Identifiers

SEARCH_PAGE_SIZE = 100
# Seconds the connection test (a person waiting on the UI's Test button) may take per attempt.
TEST_CONNECTION_TIMEOUT = 10.0


class CriteoHook(BaseHook):
    """Talk to Criteo's Marketing Solutions API with the credentials of a ``criteo`` connection.

    Its :class:`CriteoTransport` fetches OAuth2 client-credentials tokens and refreshes them before they
    expire (and once on a 401), keeps one HTTP session alive, throttles to the app's calls per minute,
    and retries 429, 5xx and connection errors with the backoff the server asks for, within a deadline.
    Nothing is read from the connection until the first call.

    :param criteo_conn_id: the Airflow connection holding the client id, secret and extras.
    :param timeout: seconds to wait for a connection and for a response, per attempt.
    :param max_retries: retries of one call after a 5xx or connection error (429s are bounded by
        ``retry_deadline`` alone: they are Criteo pacing the app, not failures).
    :param retry_deadline: seconds after the first attempt of a call beyond which no retry starts.
    :param retry_backoff: first exponential backoff step in seconds (doubles per attempt).
    :param calls_per_minute: client-side cap shared by all hooks of this app in the process.
    """

    conn_name_attr = "criteo_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = "Criteo"

    def __init__(
        self,
        criteo_conn_id: str = DEFAULT_CONN_ID,
        *,
        timeout: float = 120.0,
        max_retries: int = 8,
        retry_deadline: float = 900.0,
        retry_backoff: float = 1.0,
        calls_per_minute: int = DEFAULT_CALLS_PER_MINUTE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.criteo_conn_id = criteo_conn_id
        self.timeout = timeout
        self.retry_policy = RetryPolicy(
            max_retries=max_retries, deadline=retry_deadline, backoff=retry_backoff
        )
        self.calls_per_minute = calls_per_minute

    # ----------------------------------------------------------------- configuration and transport

    @cached_property
    def config(self) -> CriteoConnectionConfig:
        """The connection's settings, read once; the client secret is registered for masking."""
        config = CriteoConnectionConfig.from_connection(self.get_connection(self.criteo_conn_id))
        mask_secret(config.client_secret)
        return config

    @cached_property
    def session(self) -> requests.Session:
        """One keep-alive HTTP session for every call of this hook."""
        session = requests.Session()
        session.headers.update(
            {"Accept": "application/json", "User-Agent": f"airflow-provider-criteo/{__version__}"}
        )
        return session

    @cached_property
    def transport(self) -> CriteoTransport:
        """The HTTP calls of this hook, with the connection's settings; access tokens are masked."""
        config = self.config
        return CriteoTransport(
            base_url=config.base_url,
            api_version=config.api_version,
            client_id=config.client_id,
            client_secret=config.client_secret,
            conn_id=self.criteo_conn_id,
            ca_bundle=config.ca_bundle,
            session=self.session,
            timeout=self.timeout,
            retry_policy=self.retry_policy,
            calls_per_minute=self.calls_per_minute,
            log=self.log,
            on_token=mask_secret,
        )

    def get_conn(self) -> requests.Session:
        """Return the HTTP session (Airflow's hook convention)."""
        return self.session

    @property
    def advertiser_id(self) -> str | None:
        """The connection's default advertiser id."""
        return self.config.advertiser_id

    def resolve_advertiser(self, advertiser_id: str | None = None) -> str:
        """``advertiser_id``, else the connection's; fail saying where to set one when neither is."""
        resolved = advertiser_id or self.config.advertiser_id
        if not resolved:
            raise CriteoConfigurationError(
                f"No Criteo advertiser id: set advertiser_id in the extras of connection "
                f"{self.criteo_conn_id!r} or pass advertiser_id to the task."
            )
        return str(resolved)

    def get_access_token(self, *, until: float | None = None) -> str:
        """Return a valid access token, fetching a new one when the cached one is about to expire.

        :param until: the ``time.monotonic()`` by which a fetch must end (the deadline of the call that
            needs the token); by default the fetch has a ``retry_deadline`` of its own.
        """
        return self.transport.access_token(until=until)

    # ---------------------------------------------------------------------------------- API

    def list_advertisers(self) -> list[Advertiser]:
        """Return the advertisers this app may act for (``GET /{version}/advertisers/me``)."""
        body = self.transport.call("GET", "advertisers/me")
        return self.transport.parse(
            "GET",
            "advertisers/me",
            body,
            lambda b: [Advertiser.from_resource(r) for r in data_list(b) if _has_id(r)],
        )

    def get_application(self) -> dict[str, Any]:
        """Return who this app is (``GET me``): a cheap check that the credentials work."""
        body = self.transport.call("GET", "marketing-solutions/me")
        return self.transport.parse(
            "GET", "marketing-solutions/me", body, lambda b: dict(attributes_of(b.get("data") or {}))
        )

    def search_audience_segments(
        self,
        *,
        advertiser_ids: Iterable[str] | None = None,
        segment_ids: Iterable[str] | None = None,
        segment_types: Iterable[str] | None = ("ContactList",),
        page_size: int = SEARCH_PAGE_SIZE,
    ) -> Iterator[AudienceSegment]:
        """Yield every audience segment matching the filters, following the pages.

        Paging follows ``meta.totalItems`` when Criteo sends it. Without it, a page shorter than the
        pages before it ends the search, and so does an empty one: a first page shorter than asked may
        be a cap Criteo puts on ``limit``, so it is not taken for the last. A page that only repeats
        segments already seen means paging does not advance, and fails.
        """
        attributes: dict[str, list[str]] = {}
        if advertiser_ids is not None:
            attributes["advertiserIds"] = [str(a) for a in advertiser_ids]
        if segment_ids is not None:
            attributes["audienceSegmentIds"] = [str(s) for s in segment_ids]
        if segment_types is not None:
            attributes["audienceSegmentTypes"] = list(segment_types)
        body = {"data": {"type": "AudienceSegment", "attributes": attributes}}
        path = "marketing-solutions/audience-segments/search"
        offset = longest = 0
        seen: set[str] = set()
        while True:
            page = self.transport.call("POST", path, params={"limit": page_size, "offset": offset}, body=body)
            segments, items, total = self.transport.parse("POST", path, page, _segment_page)
            fresh = [segment for segment in segments if segment.id not in seen]
            if segments and not fresh:
                raise CriteoResponseError(
                    method="POST",
                    endpoint=self.transport.endpoint(path),
                    status=200,
                    detail=f"the page at offset {offset} repeats segments of earlier pages: paging does not "
                    "advance, so segments after it cannot be read",
                )
            seen.update(segment.id for segment in fresh)
            yield from fresh
            offset += items
            if not items or (offset >= total if total is not None else items < longest):
                return
            longest = max(longest, items)

    def find_contact_list_segment(
        self, name: str, *, advertiser_id: str | None = None
    ) -> AudienceSegment | None:
        """Return the advertiser's contact-list segment with exactly this name, or None."""
        advertiser = self.resolve_advertiser(advertiser_id)
        for segment in self.search_audience_segments(advertiser_ids=[advertiser]):
            if segment.name == name:
                return _described(segment, advertiser_id=advertiser, type="ContactList")
        return None

    def create_contact_list_segment(
        self, name: str, *, advertiser_id: str | None = None, description: str = ""
    ) -> AudienceSegment:
        """Create an empty contact-list segment.

        A name the advertiser already uses raises ``CriteoValidationError`` with the code
        ``name-must-be-unique``, whether Criteo reports it in ``errors``, in ``warnings`` or as a 4xx.
        """
        advertiser = self.resolve_advertiser(advertiser_id)
        path = "marketing-solutions/audience-segments/create"
        item = {
            "type": "AudienceSegment",
            "attributes": {
                "advertiserId": advertiser,
                "name": name,
                "description": description,
                "contactList": {},
            },
        }
        body = self.transport.call("POST", path, body={"data": [item]}, allow_errors=True)
        created = self.transport.parse("POST", path, body, _segments)
        if not created:
            raise self.transport.item_failure("POST", path, body, "no segment was created")
        # Create is documented as returning the new segments' ids: what the answer leaves out is ours.
        return _described(
            created[0], advertiser_id=advertiser, name=name, description=description, type="ContactList"
        )

    def get_or_create_contact_list_segment(
        self, name: str, *, advertiser_id: str | None = None, description: str = ""
    ) -> tuple[AudienceSegment, bool]:
        """Return the named contact-list segment, creating it when missing; also whether it was created.

        A concurrent creation of the same name (Criteo answers ``name-must-be-unique``), or an answer
        that does not show the created segment, is resolved by looking the segment up again.
        """
        existing = self.find_contact_list_segment(name, advertiser_id=advertiser_id)
        if existing is not None:
            return existing, False
        try:
            return self.create_contact_list_segment(
                name, advertiser_id=advertiser_id, description=description
            ), True
        except CriteoApiError as err:
            if NAME_MUST_BE_UNIQUE not in err.codes and not isinstance(err, CriteoResponseError):
                raise
            failure = err
        existing = self.find_contact_list_segment(name, advertiser_id=advertiser_id)
        if existing is not None:
            return existing, False
        if NAME_MUST_BE_UNIQUE not in failure.codes:
            raise failure
        raise CriteoResponseError(
            method="POST",
            endpoint=self.transport.endpoint("marketing-solutions/audience-segments/create"),
            status=failure.status,
            code=NAME_MUST_BE_UNIQUE,
            detail=f"Criteo says the name is taken but no contact-list segment named {name!r} is visible",
        )

    def update_audience_segment(
        self, segment_id: str, *, name: str | None = None, description: str | None = None
    ) -> AudienceSegment:
        """Rename a segment and/or change its description; return it as Criteo now has it.

        When the answer does not show the segment's new attributes (update is documented as returning
        ids), the segment is read again, and a change Criteo did not apply fails.
        """
        attributes: dict[str, Any] = {}
        if name is not None:
            attributes["name"] = name
        if description is not None:
            attributes["description"] = {"value": description}
        path = "marketing-solutions/audience-segments"
        body = self.transport.call(
            "PATCH",
            path,
            body={"data": [{"id": str(segment_id), "type": "AudienceSegment", "attributes": attributes}]},
            allow_errors=True,
        )
        answered = [
            s for s in self.transport.parse("PATCH", path, body, _segments) if s.id == str(segment_id)
        ]
        if answered and _shows(answered[0], name, description):
            return answered[0]
        if not answered and item_problems(body):
            raise self.transport.item_failure("PATCH", path, body, f"segment {segment_id} was not updated")
        current = next(
            iter(self.search_audience_segments(segment_ids=[str(segment_id)], segment_types=None)), None
        )
        if current is None or not _shows(current, name, description):
            raise CriteoResponseError(
                method="PATCH",
                endpoint=self.transport.endpoint(path),
                status=200,
                detail=f"Criteo did not confirm the update of segment {segment_id}, and reading it back does "
                "not show it",
            )
        return current

    def delete_audience_segments(self, segment_ids: Iterable[str]) -> list[str]:
        """Delete segments; return the ids Criteo confirmed.

        Segments Criteo reports as unknown (``segment-not-found``, in ``errors``, ``warnings`` or as a
        4xx naming every one) are the state a delete asks for: logged, not raised. Any other failure
        raises.
        """
        ids = [str(s) for s in segment_ids]
        items = [{"id": s, "type": "AudienceSegment", "attributes": {}} for s in ids]
        if not items:
            return []
        path = "marketing-solutions/audience-segments/delete"
        try:
            body = self.transport.call("POST", path, body={"data": items}, allow_errors=True)
        except CriteoApiError as err:
            gone = err.status is not None and 400 <= err.status < 500
            if not (gone and len(err.codes) == len(items) and set(err.codes) == {SEGMENT_NOT_FOUND}):
                raise
            self.log.warning("Criteo has no such segments to delete (%s): already gone.", err.detail)
            return []
        problems = item_problems(body)
        for problem in problems:
            if problem.get("code") != SEGMENT_NOT_FOUND:
                raise self.transport.item_failure("POST", path, body, "a segment was not deleted")
            self.log.warning("Criteo did not delete a segment: already gone (%s).", problem.get("detail"))
        confirmed = self.transport.parse(
            "POST", path, body, lambda b: [str(r["id"]) for r in data_list(b) if _has_id(r)]
        )
        unconfirmed = [s for s in ids if s not in confirmed]
        if len(unconfirmed) > len(problems):  # neither deleted nor reported: look
            still = [s.id for s in self.search_audience_segments(segment_ids=unconfirmed, segment_types=None)]
            if still:
                raise CriteoResponseError(
                    method="POST",
                    endpoint=self.transport.endpoint(path),
                    status=200,
                    detail=f"Criteo did not confirm deleting segments {', '.join(still)}, which still exist",
                )
        return confirmed

    def amend_contact_list(
        self,
        segment_id: str,
        operation: str,
        identifiers: Identifiers,
        *,
        identifier_type: str = "email",
        gum_caller_id: int | None = None,
        batch_size: int = MAX_IDENTIFIERS_PER_REQUEST,
        precondition: Callable[[], object] | None = None,
        on_request: Callable[[AmendmentResult, int], object] | None = None,
    ) -> AmendmentResult:
        """Add or remove identifiers in requests of at most ``batch_size``; return the summed counts.

        ``identifiers`` may be any iterable (a generator streams), or an array of raw 32-byte SHA-256
        digests (dtype ``S32``), sent as their lower-case hex forms: the request bodies are then encoded
        straight from the bytes. Amendments are idempotent, so a batch re-sent after a lost response
        changes nothing twice.

        :param precondition: called before every attempt, retries included; what it raises stops the
            amendment before that request (a sync checks that it still holds its lease).
        :param on_request: called after each request with Criteo's counts of it and how many
            identifiers it carried (a sync logs its progress and what Criteo refused).
        """
        if operation not in ("add", "remove"):
            raise ValueError(f"operation must be 'add' or 'remove', not {operation!r}")
        if identifier_type not in API_IDENTIFIER_TYPES:
            raise ValueError(
                f"identifier_type must be one of {sorted(API_IDENTIFIER_TYPES)}, not {identifier_type!r}"
            )
        if (identifier_type == "gum") != (gum_caller_id is not None):
            raise ValueError("gum_caller_id is required with identifier_type 'gum', and only with it")
        if not 1 <= batch_size <= MAX_IDENTIFIERS_PER_REQUEST:
            raise ValueError(f"batch_size must be between 1 and {MAX_IDENTIFIERS_PER_REQUEST}")
        path = f"marketing-solutions/audience-segments/{_numeric(segment_id)}/contact-list"
        attributes: dict[str, Any] = {"operation": operation, "identifierType": identifier_type}
        if gum_caller_id is not None:
            attributes["gumCallerId"] = gum_caller_id
        result = AmendmentResult(operation=operation)
        for body, count in amendment_bodies(attributes, identifiers, batch_size):
            response = self.transport.call("PATCH", path, body=body, precondition=precondition)
            this = self.transport.parse(
                "PATCH", path, response, AmendmentResult(operation=operation).plus_response
            )
            result = result.plus(this)
            if on_request is not None:
                on_request(this, count)
        return result

    def add_identifiers(self, segment_id: str, identifiers: Iterable[str], **kwargs: Any) -> AmendmentResult:
        """Add identifiers to a contact-list segment (see :meth:`amend_contact_list`)."""
        return self.amend_contact_list(segment_id, "add", identifiers, **kwargs)

    def remove_identifiers(self, segment_id: str, identifiers: Identifiers, **kwargs: Any) -> AmendmentResult:
        """Remove identifiers from a contact-list segment (see :meth:`amend_contact_list`)."""
        return self.amend_contact_list(segment_id, "remove", identifiers, **kwargs)

    def wipe_contact_list(self, segment_id: str, *, precondition: Callable[[], object] | None = None) -> None:
        """Remove every member of a contact-list segment.

        The answer must be Criteo's (``data.id``, which its schema requires): an empty 200 from a proxy
        is not a wipe, and taking it for one would leave every former member in the audience.

        :param precondition: called before every attempt (see :meth:`amend_contact_list`).
        """
        path = f"marketing-solutions/audience-segments/{_numeric(segment_id)}/contact-list"
        body = self.transport.call("DELETE", path, precondition=precondition)
        self.transport.parse("DELETE", path, body, lambda b: _required_id(b["data"]))

    def get_contact_list_statistics(self, segment_id: str) -> ContactListStatistics:
        """Return the number of identifiers, matches and the match rate of a contact-list segment.

        Each is None while Criteo has not computed it (matching is asynchronous).
        """
        path = f"marketing-solutions/audience-segments/{_numeric(segment_id)}/contact-list/statistics"
        body = self.transport.call("GET", path)
        return self.transport.parse(
            "GET", path, body, lambda b: ContactListStatistics.from_resource(b.get("data"))
        )

    # ---------------------------------------------------------------------------------- UI test

    def test_connection(self) -> tuple[bool, str]:
        """Check the credentials and that the configured advertiser is available (the UI's Test button).

        A person is waiting for the answer, so the check retries once at most, within seconds.
        """
        probe = type(self)(
            self.criteo_conn_id,
            timeout=min(self.timeout, TEST_CONNECTION_TIMEOUT),
            max_retries=1,
            retry_deadline=TEST_CONNECTION_TIMEOUT,
            retry_backoff=self.retry_policy.backoff,
            calls_per_minute=self.calls_per_minute,
        )
        try:
            advertisers = probe.list_advertisers()
        except (CriteoApiError, CriteoConfigurationError) as err:
            return False, str(err)
        available = ", ".join(a.id for a in advertisers) or "none"
        advertiser = self.config.advertiser_id
        if advertiser and advertiser not in {a.id for a in advertisers}:
            return False, (
                f"Credentials work, but advertiser {advertiser} is not among the advertisers this app may "
                f"use ({available}). Fix advertiser_id, or ask the advertiser to grant the app consent."
            )
        message = f"Connected to Criteo API {self.config.api_version}; advertisers available: {available}."
        if not self.config.data_transfer_consent:
            message += (
                " Data transfer consent is off: exports will refuse to send member data until it is on."
            )
        return True, message


def _has_id(resource: Any) -> bool:
    """Whether a resource has an id (nullable in Criteo's schema: one without is of no use)."""
    return isinstance(resource, dict) and resource.get("id") not in (None, "")


def _required_id(resource: Any) -> str:
    """The id a resource must have (``KeyError`` when it has none)."""
    if not _has_id(resource):
        raise KeyError("id")
    return str(resource["id"])


def _segments(body: dict[str, Any]) -> list[AudienceSegment]:
    """The segments of an envelope's ``data`` that have an id."""
    return [AudienceSegment.from_resource(r) for r in data_list(body) if _has_id(r)]


def _segment_page(body: dict[str, Any]) -> tuple[list[AudienceSegment], int, int | None]:
    """A search page: its segments, how many items it held, and ``meta.totalItems`` (None if not sent)."""
    meta = body.get("meta")
    total = meta.get("totalItems") if isinstance(meta, dict) else None
    return _segments(body), len(data_list(body)), None if total is None else int(total)


def _shows(segment: AudienceSegment, name: str | None, description: str | None) -> bool:
    """Whether a segment as Criteo answered it shows a requested name and description."""
    return (name is None or segment.name == name) and (
        description is None or segment.description == description
    )


def _described(segment: AudienceSegment, **known: Any) -> AudienceSegment:
    """``segment`` with the attributes Criteo's answer left out taken from what the caller knows."""
    return dataclasses.replace(
        segment, **{name: value for name, value in known.items() if getattr(segment, name) is None}
    )


def _numeric(segment_id: str) -> str:
    """Criteo's path ids are numeric: refuse anything else rather than build an odd URL."""
    text = str(segment_id)
    if not text.isdigit():
        raise ValueError(f"audience segment id must be numeric, not {text!r}")
    return text
