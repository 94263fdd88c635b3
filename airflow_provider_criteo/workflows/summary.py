"""What an export read, rejected and changed: the summary a task returns (no personal data)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.client.resources import plus_count
from airflow_provider_criteo.exceptions import CriteoApiError
from airflow_provider_criteo.segments.reading import ReadCounts, reasons_of
from airflow_provider_criteo.sync.results import SyncResult
from airflow_provider_criteo.workflows.history import append_history

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airflow_provider_criteo.hooks.criteo import CriteoHook
    from airflow_provider_criteo.segments.reading import Read
    from airflow_provider_criteo.sync.results import AudienceResult


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

    @classmethod
    def of(cls, read: ReadCounts, forms: dict[str, FormCounts]) -> TypeCounts:
        """A type's counts: what was read of it, and the sync counts of its lists added up."""
        valid, invalid = _criteo_counts(forms.values())
        versions = [counts.snapshot_version for counts in forms.values()]
        return cls(
            **asdict(read),
            **{name: sum(getattr(counts, name) for counts in forms.values()) for name in _FORM_TOTALLED},
            criteo_valid=valid,
            criteo_invalid=invalid,
            snapshot_version=versions[0] if len(versions) == 1 else None,
            forms=forms,
        )


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
    #: allows (0: in range; None: not compared); see :class:`~airflow_provider_criteo.sync.drift.Drift`.
    criteo_count_before: int | None = None
    drift: int | None = None
    identifier_types: dict[str, TypeCounts] = field(default_factory=dict)

    @classmethod
    def of(
        cls, read: Read, result: AudienceResult, statistics: Statistics | None = None, **export: Any
    ) -> ExportSummary:
        """The summary of an export: what it read, what the sync did (or would do), Criteo's statistics.

        ``export`` names the export (``segment``, ``audience_name``, ``advertiser_id``, ``sync_mode``,
        ``dry_run``, ``audience_id``, ``audience_created``).
        """
        forms = _form_counts(read, result)
        by_type = {name: TypeCounts.of(counted, forms.get(name, {})) for name, counted in read.counts.items()}
        types = by_type.values()
        lists = [form for counts in types for form in counts.forms.values()]
        valid, invalid = _criteo_counts(types)
        drift = result.drift
        return cls(
            **export,
            **{name: sum(getattr(counts, name) for counts in types) for name in _TOTALLED},
            requests=sum(counts.requests for counts in types) + result.requests,
            rejected_by_reason=reasons_of(types),
            criteo_valid=valid,
            criteo_invalid=invalid,
            snapshot_version=lists[0].snapshot_version if len(lists) == 1 else None,
            rows_read=read.rows,
            rows_without_identifier=read.rows_without_identifier,
            audience_wiped=result.wiped,
            criteo_count_before=drift.criteo if drift is not None else None,
            drift=drift.amount if drift is not None else None,
            identifier_types=by_type,
            **asdict(statistics or Statistics()),
        )

    def append_to(self, table: str, conn_id: str, run: dict[str, str]) -> None:
        """Append the summary (counts only, no personal data) to the history ``table`` of ``conn_id``."""
        append_history(conn_id, table, asdict(self), run)

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


@dataclass(frozen=True)
class Statistics:
    """Criteo's size and match rate of an audience after an export; None, with a note, when not given."""

    audience_size: int | None = None
    match_rate: float | None = None
    statistics_note: str | None = None

    @classmethod
    def of(cls, hook: CriteoHook, audience_id: str, log: Any) -> Statistics:
        """Criteo's size and match rate of the audience; None, with a note, while it has not computed them.

        The sync is done by then: statistics Criteo fails to give are noted, they do not fail the task.
        """
        try:
            statistics = hook.get_contact_list_statistics(audience_id)
        except CriteoApiError as err:
            note = f"Criteo's statistics could not be read after the export: {err}"
            log.warning("%s", note)
            return cls(statistics_note=note)
        size, rate = statistics.number_of_identifiers, statistics.match_rate
        if size is not None and rate is not None:
            return cls(size, rate)
        log.info("Criteo has not computed the statistics of audience %s yet.", audience_id)
        return cls(
            size,
            rate,
            "Criteo has not computed this audience's statistics yet (matching is asynchronous); the next "
            "run reports them.",
        )


def _form_counts(read: Read, result: AudienceResult) -> dict[str, dict[str, FormCounts]]:
    """Each list's counts, by type and form: its distinct members read, and what the sync did with it.

    The lists read come first (an optional one only when it has members), then those only the sync
    touched (a list with history and no members any more).
    """
    sizes = {
        (form.name, form.hashing): len(group)
        for form, group in read.members
        if len(group) or not form.optional
    }
    by_type: dict[str, dict[str, FormCounts]] = {}
    for name, hashing in [*sizes, *(key for key in result.by_form if key not in sizes)]:
        done = result.by_form.get((name, hashing), SyncResult())
        by_type.setdefault(name, {})[hashing] = FormCounts(
            **asdict(done), members=sizes.get((name, hashing), 0)
        )
    return by_type
