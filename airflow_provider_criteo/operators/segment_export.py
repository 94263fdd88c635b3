"""SegmentExportOperator: stream one segment from a SQL database into a Criteo audience."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.lineage.datasets import members_by_type, task_lineage
from airflow_provider_criteo.operators.base import CriteoSqlOperator
from airflow_provider_criteo.sync.modes import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_MAX_REMOVAL_FRACTION,
    SYNC_MODES,
    OnDrift,
    OnMissingState,
    SyncMode,
    SyncPolicy,
    check_sync_mode,
)
from airflow_provider_criteo.ui.links import CriteoExportLink, record_export
from airflow_provider_criteo.workflows.export import SegmentExport
from airflow_provider_criteo.workflows.export_options import ExportOptions

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

#: SYNC_MODES is public here: DAGs offer it as the choices of a trigger form's sync_mode.
__all__ = ["SYNC_MODES", "SegmentExportOperator"]


class SegmentExportOperator(CriteoSqlOperator):
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
        (templated)
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
        *CriteoSqlOperator.template_fields,
        "segment",
        "audience_name",
        "audience_description",
        "sync_mode",
        "dry_run",
        "history_table",
        "history_conn_id",
    )
    #: The task instance's link to its page in the Criteo view of the Airflow UI.
    operator_extra_links = (CriteoExportLink(),)
    # Shadows BaseOperator.dry_run(), which only renders templates and which nothing in Airflow calls:
    # the design contract names this parameter, and a template field must be an attribute.
    dry_run: bool  # type: ignore[assignment]

    def __init__(
        self,
        *,
        segment: str,
        email_column: str = "email",
        identifier_columns: Mapping[str, str] | None = None,
        audience_name: str | None = None,
        audience_description: str | None = None,
        sync_mode: str = SyncMode.MIRROR.value,
        hash_emails: bool = True,
        max_profiles: int | None = ExportOptions.max_profiles,
        dry_run: bool = False,
        on_missing_state: str = OnMissingState.REPLACE.value,
        on_drift: str = OnDrift.WARN.value,
        max_removal_fraction: float = DEFAULT_MAX_REMOVAL_FRACTION,
        allow_large_removal: bool = False,
        batch_size: int = DEFAULT_BATCH_SIZE,
        adopt_existing_audience: bool = False,
        history_table: str | None = None,
        history_conn_id: str | None = None,
        max_audiences: int = ExportOptions.max_audiences,
        min_audience_size: int = ExportOptions.min_audience_size,
        **kwargs: Any,
    ) -> None:
        if not _is_template(sync_mode):
            check_sync_mode(sync_mode)
        if max_profiles is not None and max_profiles < 1:
            raise ValueError("max_profiles must be a positive number, or None for no cap.")
        sync_policy = SyncPolicy(
            on_missing_state=on_missing_state,
            on_drift=on_drift,
            max_removal_fraction=max_removal_fraction,
            allow_large_removal=allow_large_removal,
            batch_size=batch_size,
        )
        super().__init__(identifier_columns=identifier_columns, column=email_column, **kwargs)
        if sync_mode == SyncMode.MIRROR and not hash_emails and "email" in self.identifier_columns:
            raise ValueError(
                "sync_mode='mirror' needs hash_emails=True: its snapshot keeps digests only, and removing an "
                "address would mean sending it in plain. Use sync_mode='replace' to send plain addresses."
            )
        self.segment = segment
        self.email_column = email_column
        self.audience_name = audience_name
        self.audience_description = audience_description
        self.sync_mode = sync_mode
        self.hash_emails = hash_emails
        self.max_profiles = max_profiles
        self.dry_run = dry_run
        self.batch_size = batch_size
        self.adopt_existing_audience = adopt_existing_audience
        self.history_table = history_table
        self.history_conn_id = history_conn_id
        self.max_audiences = max_audiences
        self.min_audience_size = min_audience_size
        self.sync_policy = sync_policy
        #: The last ``execute``'s export and its summary, for OpenLineage.
        self.export: SegmentExport | None = None
        self.summary: dict[str, Any] | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        """Read, prepare and send the segment; return the summary."""
        self._record(context)
        options = ExportOptions(
            segment=self.segment,
            sync_mode=self.sync_mode,
            dry_run=self.dry_run,
            audience_name=self.audience_name,
            audience_description=self.audience_description,
            advertiser_id=self.advertiser_id,
            adopt_existing_audience=self.adopt_existing_audience,
            max_profiles=self.max_profiles,
            min_audience_size=self.min_audience_size,
            max_audiences=self.max_audiences,
            policy=self.sync_policy,
            history_table=self.history_table,
            history_conn_id=self.history_conn_id,
        )
        query = self.query(hash_emails=self.hash_emails)
        self.export = SegmentExport(self.hook, query, options, self.snapshot_store(), **self.run_of(context))
        self.summary = self.export.run()
        return self.summary

    def get_openlineage_facets_on_failure(self, task_instance: Any) -> OperatorLineage | None:
        """OpenLineage of a failed export: the tables read, and the audience it may have changed before
        failing (without counts) once it had found or created it."""
        export = self.export
        audience = export.audience_id if export else None  # a dry run never takes an audience
        return task_lineage(
            self.query(hash_emails=self.hash_emails),
            rows_read=None,
            advertiser_id=export.advertiser if export else None,
            audience_ids=[audience] if audience else [],
            facet="criteoAudience",
            identifier_counts={},
        )

    def _record(self, context: Context) -> None:
        """Record the audience for the Criteo view before anything can fail: Airflow clears a try's
        XComs as it starts, and a try that fails early must still be listed, as failed."""
        advertiser = self.advertiser_id
        if not advertiser:
            with contextlib.suppress(Exception):  # the export fails on it next, saying why
                advertiser = self.hook.resolve_advertiser()
        record_export(
            context,
            advertiser_id=advertiser,
            audience_name=ExportOptions.name_of(self.audience_name, self.segment),
            segment=self.segment,
            sync_mode=self.sync_mode,
            dry_run=self.dry_run,
        )

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage | None:
        """OpenLineage: the tables read (with the rows read) and the audience written, with its members
        per identifier type; a dry run wrote nothing."""
        summary = self.summary or {}
        written = summary.get("audience_id") and not summary.get("dry_run")
        return task_lineage(
            self.query(hash_emails=self.hash_emails),
            rows_read=summary.get("rows_read"),
            advertiser_id=summary.get("advertiser_id"),
            audience_ids=[summary["audience_id"]] if written else [],
            facet="criteoAudience",
            identifier_counts=members_by_type(summary.get("identifier_types", {})),
        )


def _is_template(value: object) -> bool:
    return isinstance(value, str) and "{{" in value
