"""SegmentExportOperator: stream one segment from a SQL database into a Criteo audience."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from airflow.sdk import BaseOperator

from airflow_provider_criteo.client.resources import MAX_IDENTIFIERS_PER_REQUEST, plus_count
from airflow_provider_criteo.defaults import DEFAULT_CONN_ID
from airflow_provider_criteo.exceptions import CriteoApiError, CriteoConfigurationError
from airflow_provider_criteo.hooks.criteo import CriteoHook
from airflow_provider_criteo.identifiers.phone import phone_region as phone_region_of
from airflow_provider_criteo.segments.reading import ReadCounts, read_identifiers, reasons_of
from airflow_provider_criteo.segments.reading import identifier_columns as identifier_columns_of
from airflow_provider_criteo.segments.source import DEFAULT_CHUNK_SIZE, get_sql_hook, source_query
from airflow_provider_criteo.sync.audience import (
    ON_DRIFT,
    ON_MISSING_STATE,
    AudienceSync,
    SyncPolicy,
    SyncResult,
)
from airflow_provider_criteo.sync.plan import DEFAULT_MAX_REMOVAL_FRACTION
from airflow_provider_criteo.sync.snapshots import SnapshotStore
from airflow_provider_criteo.workflows.history import append_history
from airflow_provider_criteo.workflows.ownership import claim, ownership_tag, read_only_error, tagged
from airflow_provider_criteo.workflows.preflight import (
    DEFAULT_MAX_AUDIENCES,
    DEFAULT_MIN_AUDIENCE_SIZE,
    check_advertiser,
    warn_audience_cap,
    warn_small_segment,
)
from airflow_provider_criteo.workflows.run_identity import lease_owner, run_identity

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from airflow.sdk import Context

    from airflow_provider_criteo.client.resources import AudienceSegment
    from airflow_provider_criteo.segments.reading import Members
    from airflow_provider_criteo.sync.audience import AudienceResult

SYNC_MODES = ("mirror", "add_only", "replace")
DEFAULT_MAX_PROFILES = 1_000_000


@dataclass
class FormCounts(SyncResult):
    """What one export kept and changed of one member list: an identifier type in one form.

    ``criteo_valid`` / ``criteo_invalid`` are what Criteo counted over the list's amendments (None when
    Criteo sent no counts).
    """

    members: int = 0


@dataclass
class SyncCounts(SyncResult, ReadCounts):
    """What one export read, rejected and changed: of one identifier type, or of all of them."""


@dataclass
class TypeCounts(SyncCounts):
    """What one export read, rejected and changed of one identifier type, in all and by form."""

    #: By form (``"sha256"``; ``"md5"`` for e-mails given as MD5 digests; ``"none"``), each a list of its own.
    forms: dict[str, FormCounts] = field(default_factory=dict)

    def add_up(self) -> None:
        """Set the type's sync counts from its forms'."""
        forms = self.forms.values()
        for name in _FORM_TOTALLED:
            setattr(self, name, sum(getattr(counts, name) for counts in forms))
        self.criteo_valid, self.criteo_invalid = _criteo_counts(forms)
        versions = [counts.snapshot_version for counts in forms]
        self.snapshot_version = versions[0] if len(versions) == 1 else None


#: The counts of :class:`FormCounts` that a type adds up over its forms.
_FORM_TOTALLED = ("added", "removed", "unchanged", "requests")
#: The counts of :class:`TypeCounts` that the summary adds up over identifier types.
_TOTALLED = ("valid", "invalid", "prehashed", "duplicates", "added", "removed", "unchanged")


def _criteo_counts(counts: Iterable[SyncResult]) -> tuple[int | None, int | None]:
    """Criteo's valid and invalid counts over the lists that sent amendments; None unless all had them."""
    valid = invalid = None
    for number, counted in enumerate(c for c in counts if c.requests):
        valid = plus_count(valid, counted.criteo_valid, first=number == 0)
        invalid = plus_count(invalid, counted.criteo_invalid, first=number == 0)
    return valid, invalid


@dataclass(kw_only=True)
class ExportSummary(SyncCounts):
    """What one export read, rejected and changed: the task's XCom value (no personal data).

    The counts it has of :class:`SyncCounts` are totals over the identifier types (``requests`` also
    counts a wipe), and ``identifier_types`` holds them by type, each with its forms.
    ``snapshot_version`` is the committed snapshot's when the export sends one list.
    ``audience_size`` and ``match_rate`` are Criteo's statistics after the export, None while Criteo
    has not computed them (``statistics_note`` then says so).
    """

    segment: str
    audience_name: str
    advertiser_id: str
    sync_mode: str
    dry_run: bool
    audience_id: str | None = None
    audience_created: bool = False
    rows_read: int = 0
    #: Rows of which no identifier of any type could be sent (for one type: its rejected rows).
    rows_without_identifier: int = 0
    audience_wiped: bool = False
    audience_size: int | None = None
    match_rate: float | None = None
    statistics_note: str | None = None
    #: Criteo's count of the audience before a mirror run, and how far it was outside what the state
    #: allows (0: in range; None: not compared); see :class:`~airflow_provider_criteo.sync.audience.Drift`.
    criteo_count_before: int | None = None
    drift: int | None = None
    identifier_types: dict[str, TypeCounts] = field(default_factory=dict)

    def keep(self, members: Members) -> None:
        """Count the distinct members of each list read."""
        for form, group in members:
            if len(group) or not form.optional:
                self.identifier_types[form.name].forms[form.hashing] = FormCounts(members=len(group))

    def apply(self, result: AudienceResult) -> None:
        """Take the counts of what the sync did (or would do)."""
        self.audience_wiped = result.wiped
        if result.drift is not None:
            self.criteo_count_before, self.drift = result.drift.criteo, result.drift.amount
        for (name, hashing), done in result.by_form.items():
            forms = self.identifier_types[name].forms
            kept = forms[hashing].members if hashing in forms else 0
            forms[hashing] = FormCounts(**asdict(done), members=kept)
        for type_counts in self.identifier_types.values():
            type_counts.add_up()
        self.add_up()
        self.requests += result.requests

    def add_up(self) -> None:
        """Set the totals from the counts by identifier type."""
        by_type = self.identifier_types.values()
        for name in (*_TOTALLED, "requests"):
            setattr(self, name, sum(getattr(counts, name) for counts in by_type))
        self.rejected_by_reason = reasons_of(by_type)
        self.criteo_valid, self.criteo_invalid = _criteo_counts(by_type)
        lists = [form for counts in by_type for form in counts.forms.values()]
        self.snapshot_version = lists[0].snapshot_version if len(lists) == 1 else None

    def as_table(self) -> str:
        """The summary as an aligned two-column table, for the task log: the export, then its counts."""
        values = asdict(self)
        counted = [f.name for f in fields(SyncCounts)]
        own = [name for name in values if name not in counted]
        rows = {name: values[name] for name in own + counted}
        for nested in ("rejected_by_reason", "identifier_types"):
            del rows[nested]
        for optional in ("statistics_note", "criteo_count_before", "drift"):
            if rows[optional] is None:
                del rows[optional]
        rows.update({f"rejected: {reason}": n for reason, n in sorted(self.rejected_by_reason.items())})
        lists = [
            (name, hashing, form)
            for name, c in self.identifier_types.items()
            for hashing, form in c.forms.items()
        ]
        if len(lists) > 1:
            for name, hashing, counts in lists:
                label = name if len(self.identifier_types[name].forms) == 1 else f"{name} ({hashing})"
                rows[label] = ", ".join(f"{getattr(counts, key)} {key}" for key in _LIST_COLUMNS)
        width = max(map(len, rows))
        return "\n".join(f"{key.ljust(width)}  {value}" for key, value in rows.items())


#: What the task log's table shows of each member list.
_LIST_COLUMNS = ("members", "added", "removed", "unchanged")


class SegmentExportOperator(BaseOperator):
    """Export the members of one segment to a Criteo contact-list audience.

    Reads the segment through any common-sql connection, normalises, validates, de-duplicates and
    (by default) SHA-256-hashes the addresses, finds or creates the audience segment named after
    the segment for the advertiser, and sends the members in batches of at most 50,000. Members are
    identified by e-mail, or by several identifier types at once (``identifier_columns``). Invalid
    values are counted by reason and never sent; plaintext addresses never leave the worker and
    never reach logs, XComs or errors. Returns a small JSON summary.

    Several segments are several tasks: ``SegmentExportOperator.partial(...).expand(segment=[...])``.

    :param segment: name of the segment to export. (templated)
    :param sql_conn_id: connection of the database holding the segment (any common-sql hook). (templated)
    :param sql: query returning the segment's members, or a path to a ``.sql`` file; mutually
        exclusive with ``table``. (templated)
    :param table: table or view holding exactly this segment's members; validated and quoted,
        optionally schema-qualified. (templated)
    :param parameters: parameters bound to ``sql``, in the driver's paramstyle. (templated)
    :param email_column: the column holding the e-mail addresses (or their SHA-256 or MD5 hex digests).
    :param identifier_columns: instead of ``email_column``, the column of each identifier type to send
        into the audience, e.g. ``{"email": "email", "phoneNumber": "phone", "madid": "device_id"}``.
        Types: ``email`` (normalised, SHA-256-hashed; SHA-256 and MD5 hex digests taken as they are,
        each in a list of its own), ``phoneNumber`` (parsed by libphonenumber and hashed as Criteo's
        hashed phone number, the SHA-256 of the E.164 digits without ``+``; SHA-256 hex taken as it
        is), ``madid`` (mobile ad ids, lower-case UUIDs) and ``identityLink`` (sent as they are). Each
        type is counted, de-duplicated and kept in step on its own.
    :param phone_region: ISO 3166 region (``"FR"``) of phone numbers written without a country code:
        ``06 12 34 56 78`` is then ``+33 6 12 34 56 78``; without it (or ``phone_country_code``) such
        numbers are rejected (``no_country_code``).
    :param phone_country_code: the older way to say it, a calling code (``"33"``), taken as its main
        region (``"1"`` is ``"US"``); pass one or the other.
    :param criteo_conn_id: the Criteo connection. (templated)
    :param advertiser_id: Criteo advertiser; defaults to the connection's ``advertiser_id``. (templated)
    :param audience_name: name of the Criteo audience segment; defaults to ``segment``. (templated)
    :param audience_description: description given to an audience segment this task creates. (templated)
    :param sync_mode: ``"mirror"`` (default: send only the members who joined and left since the last
        successful run, so the audience holds exactly the segment), ``"add_only"`` (add every member,
        remove nothing) or ``"replace"`` (wipe the audience, then add every member: the audience is
        empty in between). (templated)
    :param hash_emails: send the SHA-256 of each normalised address (default) rather than the address;
        with ``False``, values given as digests are rejected (one request must not mix forms).
    :param max_profiles: fail, sending nothing, when the segment has more distinct valid members;
        ``None`` lifts the cap.
    :param dry_run: read, validate and report, sending no member data and changing nothing at Criteo.
    :param chunk_size: rows fetched from the database at a time.
    :param snapshot_location: where mirror snapshots live: a folder or an ``ObjectStoragePath`` URL
        (``s3://...``) that every worker reaches; default ``[criteo] snapshot_location``, else
        ``$AIRFLOW_HOME/criteo/snapshots``. (templated)
    :param on_missing_state: what mirror does when the audience exists but has no snapshot (first
        mirror export of an existing audience, or a lost snapshot): ``"replace"`` (default: wipe, then
        add, so the audience is exact at once; it is empty for a moment) or ``"add_only"`` (add the
        segment; members from before stay until a replace).
    :param on_drift: what mirror does when Criteo's own count of the audience is outside what its mirror
        state allows (people added or removed outside this export, lost state): ``"warn"`` (default:
        report it in the summary, the history table and the log; Criteo's counts lag behind recent
        uploads, so the default does not wipe on what may be lag) or ``"replace"`` (wipe, then add the
        segment: exact at once, empty for a moment).
    :param max_removal_fraction: mirror refuses, sending nothing, to remove more than this share of
        the audience in one run, or to empty it (default 0.5): a broken upstream table must not wipe
        a live audience.
    :param allow_large_removal: lift that guard for a run whose shrinkage is real.
    :param batch_size: identifiers per amendment request, at most Criteo's 50,000.
    :param hook_params: keyword arguments for :class:`CriteoHook` (``timeout``, ``max_retries``,
        ``retry_deadline``, ...).
    :param adopt_existing_audience: let ``mirror`` and ``replace`` take over an existing audience this
        task did not create (it is then tagged as this task's). Without it they refuse an audience whose
        tag names another DAG or task, or that has none, so a typo in a name or a copied DAG cannot wipe
        another export's or a colleague's audience.
    :param history_table: append each run's summary (counts, audience size, match rate; no personal
        data) to this table, created when missing, to chart an audience over time. (templated)
    :param history_conn_id: connection of the history table; default ``sql_conn_id``. (templated)
    :param max_audiences: warn when creating an audience would pass this many for the advertiser
        (Criteo allows about 1,000).
    :param min_audience_size: warn when the segment has fewer valid members (Criteo recommends at
        least 500 matched members).
    """

    template_fields: Sequence[str] = (
        "segment",
        "sql_conn_id",
        "sql",
        "table",
        "parameters",
        "criteo_conn_id",
        "advertiser_id",
        "audience_name",
        "audience_description",
        "sync_mode",
        "dry_run",
        "snapshot_location",
        "history_table",
        "history_conn_id",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"sql": "sql", "parameters": "json"}
    ui_color = "#f48120"
    # Shadows BaseOperator.dry_run(), which only renders templates and which nothing in Airflow calls:
    # the design contract names this parameter, and a template field must be an attribute.
    dry_run: bool  # type: ignore[assignment]

    def __init__(
        self,
        *,
        segment: str,
        sql_conn_id: str,
        sql: str | None = None,
        table: str | None = None,
        parameters: Mapping[str, Any] | Sequence[Any] | None = None,
        email_column: str = "email",
        identifier_columns: Mapping[str, str] | None = None,
        phone_region: str | None = None,
        phone_country_code: str | None = None,
        criteo_conn_id: str = DEFAULT_CONN_ID,
        advertiser_id: str | None = None,
        audience_name: str | None = None,
        audience_description: str | None = None,
        sync_mode: str = "mirror",
        hash_emails: bool = True,
        max_profiles: int | None = DEFAULT_MAX_PROFILES,
        dry_run: bool = False,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        snapshot_location: str | None = None,
        on_missing_state: str = "replace",
        on_drift: str = "warn",
        max_removal_fraction: float = DEFAULT_MAX_REMOVAL_FRACTION,
        allow_large_removal: bool = False,
        batch_size: int = MAX_IDENTIFIERS_PER_REQUEST,
        hook_params: dict[str, Any] | None = None,
        adopt_existing_audience: bool = False,
        history_table: str | None = None,
        history_conn_id: str | None = None,
        max_audiences: int = DEFAULT_MAX_AUDIENCES,
        min_audience_size: int = DEFAULT_MIN_AUDIENCE_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (sql is None) == (table is None):
            raise ValueError("Pass exactly one of sql or table.")
        if not _is_template(sync_mode):
            _check_sync_mode(sync_mode)
        if max_profiles is not None and max_profiles < 1:
            raise ValueError("max_profiles must be a positive number, or None for no cap.")
        if on_missing_state not in ON_MISSING_STATE:
            raise ValueError(f"on_missing_state must be one of {ON_MISSING_STATE}, not {on_missing_state!r}.")
        if on_drift not in ON_DRIFT:
            raise ValueError(f"on_drift must be one of {ON_DRIFT}, not {on_drift!r}.")
        if not 1 <= batch_size <= MAX_IDENTIFIERS_PER_REQUEST:
            raise ValueError(f"batch_size must be between 1 and {MAX_IDENTIFIERS_PER_REQUEST:,}.")
        if not 0 <= max_removal_fraction <= 1:
            raise ValueError("max_removal_fraction must be between 0 and 1.")
        columns = identifier_columns_of(email_column, identifier_columns)
        if sync_mode == "mirror" and not hash_emails and "email" in columns:
            raise ValueError(
                "sync_mode='mirror' needs hash_emails=True: its snapshot keeps digests only, and removing an "
                "address would mean sending it in plain. Use sync_mode='replace' to send plain addresses."
            )
        self.segment = segment
        self.sql_conn_id = sql_conn_id
        self.sql = sql
        self.table = table
        self.parameters = parameters
        self.email_column = email_column
        self.identifier_columns = columns
        self.phone_region = phone_region_of(phone_region, phone_country_code)
        self.criteo_conn_id = criteo_conn_id
        self.advertiser_id = advertiser_id
        self.audience_name = audience_name
        self.audience_description = audience_description
        self.sync_mode = sync_mode
        self.hash_emails = hash_emails
        self.max_profiles = max_profiles
        self.dry_run = dry_run
        self.chunk_size = chunk_size
        self.snapshot_location = snapshot_location
        self.batch_size = batch_size
        self.hook_params = hook_params or {}
        self.adopt_existing_audience = adopt_existing_audience
        self.history_table = history_table
        self.history_conn_id = history_conn_id
        self.max_audiences = max_audiences
        self.min_audience_size = min_audience_size
        self.sync_policy = SyncPolicy(
            on_missing_state=on_missing_state,
            on_drift=on_drift,
            max_removal_fraction=max_removal_fraction,
            allow_large_removal=allow_large_removal,
            batch_size=batch_size,
        )

    @cached_property
    def hook(self) -> CriteoHook:
        """The Criteo hook of ``criteo_conn_id``."""
        return CriteoHook(self.criteo_conn_id, **self.hook_params)

    def execute(self, context: Context) -> dict[str, Any]:
        """Read, prepare and send the segment; return the summary."""
        _check_sync_mode(self.sync_mode)
        if not isinstance(self.dry_run, bool):
            raise CriteoConfigurationError(
                f"dry_run must be true or false, not {self.dry_run!r}; when it comes from a template, set "
                "render_template_as_native_obj=True on the DAG."
            )
        self._check_consent()
        store = SnapshotStore.from_config(self.snapshot_location)
        store.check_shared()
        summary = ExportSummary(
            segment=self.segment,
            audience_name=self.audience_name or self.segment,
            advertiser_id=self.hook.resolve_advertiser(self.advertiser_id),
            sync_mode=self.sync_mode,
            dry_run=self.dry_run,
        )
        members = self._read(summary)
        self._check_size(members)
        check_advertiser(self.hook, summary.advertiser_id)
        distinct = sum(len(group) for _, group in members)
        warn_small_segment(self.segment, distinct, self.min_audience_size, self.log)
        run = run_identity(context, self.task_id)
        tag = ownership_tag(run["dag_id"], run["task_id"])
        if self.dry_run:
            self._dry_run(summary, members, tag, store)
        else:
            self._send(summary, members, tag, store, owner=lease_owner(context))
        if summary.audience_id:
            self._statistics(summary, summary.audience_id)
        self.log.info("Criteo export of segment %r:\n%s", self.segment, summary.as_table())
        result = asdict(summary)
        if self.history_table:
            history_hook = get_sql_hook(self.history_conn_id or self.sql_conn_id)
            append_history(history_hook, self.history_table, result, run)
        return result

    # ------------------------------------------------------------------------------------ checks

    def _check_consent(self) -> None:
        """No member data leaves for Criteo before someone agreed to it on the connection."""
        if self.hook.config.data_transfer_consent:
            return
        if self.dry_run:
            self.log.warning(
                "Connection %r has no data transfer consent; a dry run sends nothing.", self.criteo_conn_id
            )
            return
        raise CriteoConfigurationError(
            f"Connection {self.criteo_conn_id!r} has not agreed to send customer data to Criteo: tick "
            "'I agree to send customer data to Criteo' on the connection (extra data_transfer_consent=true) "
            "once your data protection review allows it. Nothing was read or sent."
        )

    def _check_size(self, members: Members) -> None:
        if self.max_profiles is None:
            return
        by_type: dict[str, int] = {}
        for form, group in members:
            by_type[form.name] = by_type.get(form.name, 0) + len(group)
        for name, size in by_type.items():
            if size > self.max_profiles:
                what = "members" if len(by_type) == 1 else f"{name} members"
                raise CriteoConfigurationError(
                    f"Segment {self.segment!r} has {size:,} distinct valid {what}, over "
                    f"max_profiles={self.max_profiles:,}. Nothing was sent. Raise max_profiles (or set it to "
                    "None) if this size is expected."
                )

    def _check_writable(self, audience: AudienceSegment) -> None:
        """Refuse, before anything is sent, an audience whose contact list Criteo keeps read-only."""
        if audience.read_only:
            raise read_only_error([audience], "Nothing was sent. Export to another audience_name.")

    def _statistics(self, summary: ExportSummary, audience_id: str) -> None:
        """Criteo's size and match rate of the audience; None, with a note, while it has not computed them.

        The sync is done by then: statistics Criteo fails to give are noted, they do not fail the task.
        """
        try:
            statistics = self.hook.get_contact_list_statistics(audience_id)
        except CriteoApiError as err:
            summary.statistics_note = f"Criteo's statistics could not be read after the export: {err}"
            self.log.warning("%s", summary.statistics_note)
            return
        summary.audience_size, summary.match_rate = statistics.number_of_identifiers, statistics.match_rate
        if summary.audience_size is None or summary.match_rate is None:
            summary.statistics_note = (
                "Criteo has not computed this audience's statistics yet (matching is asynchronous); the "
                "next run reports them."
            )
            self.log.info("Criteo has not computed the statistics of audience %s yet.", audience_id)

    # ------------------------------------------------------------------------------------ reading

    def _read(self, summary: ExportSummary) -> Members:
        """Stream the identifier columns and keep each type's distinct valid members; count the rest."""
        sql_hook = get_sql_hook(self.sql_conn_id)
        columns = self.identifier_columns
        summary.identifier_types = {name: TypeCounts() for name in columns}
        read = read_identifiers(
            sql_hook,
            source_query(sql_hook, self.sql, self.table, columns.values()),
            self.parameters,
            columns,
            summary.identifier_types,
            log=self.log,
            what=f"segment {self.segment!r}",
            hash_emails=self.hash_emails,
            phone_region=self.phone_region,
            chunk_size=self.chunk_size,
        )
        summary.rows_read, summary.rows_without_identifier = read.rows, read.rows_without_identifier
        summary.keep(read.members)
        summary.add_up()
        return read.members

    # ------------------------------------------------------------------------------------ sending

    def _sync(
        self, summary: ExportSummary, audience_id: str, store: SnapshotStore, owner: str
    ) -> AudienceSync:
        return AudienceSync(
            self.hook,
            store,
            summary.advertiser_id,
            audience_id,
            owner=owner,
            policy=self.sync_policy,
            segment=self.segment,
            log=self.log,
        )

    def _dry_run(self, summary: ExportSummary, members: Members, tag: str, store: SnapshotStore) -> None:
        """Report what a real run would send, without creating or changing anything at Criteo."""
        audience = self.hook.find_contact_list_segment(
            summary.audience_name, advertiser_id=summary.advertiser_id
        )
        if audience is not None:
            self._check_writable(audience)
            claim(
                self.hook,
                audience,
                tag,
                adopt=self.adopt_existing_audience,
                mode=self.sync_mode,
                dry_run=True,
            )
        summary.audience_id = audience.id if audience else None
        sync = self._sync(summary, audience.id if audience else "0", store, owner="dry-run")
        summary.apply(sync.preview(self.sync_mode, members, exists=audience is not None))
        self.log.info(
            "Dry run: would add %d and remove %d members of audience %r; nothing sent.",
            summary.added,
            summary.removed,
            summary.audience_name,
        )

    def _send(
        self, summary: ExportSummary, members: Members, tag: str, store: SnapshotStore, owner: str
    ) -> None:
        audience, created = self._audience(summary, tag)
        summary.audience_id, summary.audience_created = audience.id, created
        summary.apply(self._sync(summary, audience.id, store, owner).run(self.sync_mode, members, created))

    def _audience(self, summary: ExportSummary, tag: str) -> tuple[AudienceSegment, bool]:
        """Find the audience (checking it is ours to change) or create it, tagged as ours."""
        advertiser = summary.advertiser_id
        audience = self.hook.find_contact_list_segment(summary.audience_name, advertiser_id=advertiser)
        created = False
        if audience is None:
            warn_audience_cap(self.hook, advertiser, self.max_audiences, self.log)
            description = self.audience_description or f"Segment {self.segment!r}, exported by Airflow"
            audience, created = self.hook.get_or_create_contact_list_segment(
                summary.audience_name, advertiser_id=advertiser, description=tagged(description, tag)
            )
        if not created:
            self._check_writable(audience)
            claim(self.hook, audience, tag, adopt=self.adopt_existing_audience, mode=self.sync_mode)
        self.log.info(
            "%s Criteo audience %r (id %s) of advertiser %s.",
            "Created" if created else "Found",
            audience.name,
            audience.id,
            audience.advertiser_id,
        )
        return audience, created


def _is_template(value: object) -> bool:
    return isinstance(value, str) and "{{" in value


def _check_sync_mode(value: object) -> None:
    if value not in SYNC_MODES:
        raise CriteoConfigurationError(f"sync_mode must be one of {', '.join(SYNC_MODES)}; not {value!r}.")
