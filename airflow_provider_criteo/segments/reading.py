"""Reading identifier columns from a SQL source into one member set per identifier type, counting.

Both operators read this way: the export (the members of a segment) and the erasure (the people to
forget). Rejected values are counted by type and reason and logged by row position only, never by
value.
"""

from __future__ import annotations

import functools
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_criteo.exceptions import UndecodableTextError
from airflow_provider_criteo.progress import Progress
from airflow_provider_criteo.segments.source import stream_columns

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

    from airflow.providers.common.sql.hooks.sql import DbApiHook

    from airflow_provider_criteo.identifiers.forms import IdentifierForm, IdentifierType, Members
    from airflow_provider_criteo.identifiers.values import PreparedChunk, Rejection
    from airflow_provider_criteo.segments.key_files import KeyFile, Spilling
    from airflow_provider_criteo.segments.source import Chunks

# How many rejected values the task log lists by row position (never by value).
REJECTED_ROWS_LOGGED = 10


class RunSink(Protocol):
    """Takes the sorted runs of member lists as they go to disk, to send them while the rest is read."""

    def take(self, kind: IdentifierForm, run: KeyFile) -> None:
        """One sorted run of a member list."""

    def forget(self) -> None:
        """The runs taken so far are not the segment (it is read again): none of them counts as sent."""


@dataclass
class ReadCounts:
    """What was read of one identifier type: valid values (some given as digests), rejected ones."""

    valid: int = 0
    invalid: int = 0
    prehashed: int = 0
    duplicates: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)

    def reject(self, reason: Rejection) -> None:
        """Count a rejected value."""
        self.invalid += 1
        self.rejected_by_reason[reason.value] = self.rejected_by_reason.get(reason.value, 0) + 1

    def take(self, prepared: PreparedChunk) -> None:
        """Count a prepared chunk: valid values (some given as digests) and rejected ones."""
        given = sum(map(len, prepared.given.values()))
        self.valid += len(prepared.valid) + given
        self.prehashed += given
        for _, rejection in prepared.rejected:
            self.reject(rejection)


def reasons_of(counts: Iterable[ReadCounts]) -> dict[str, int]:
    """The rejected values by reason, over several identifier types."""
    reasons: Counter[str] = Counter()
    for counted in counts:
        reasons.update(counted.rejected_by_reason)
    return dict(reasons)


@dataclass
class Read:
    """The member sets read, frozen, and how many rows were read and had no usable identifier.

    ``derived`` holds, when asked, the keys other lists have of the valid values (the MD5 of each
    address): the same people, in forms the source did not give. They count nowhere.
    """

    members: Members
    rows: int = 0
    rows_without_identifier: int = 0
    derived: Members = field(default_factory=list)
    #: What was read of each identifier type, in the order of the columns.
    counts: dict[str, ReadCounts] = field(default_factory=dict)

    def rejected_by_reason(self) -> dict[str, int]:
        """The rejected values by reason, over every identifier type read."""
        return reasons_of(self.counts.values())


def read_identifiers(
    hook: DbApiHook,
    query: str,
    parameters: Mapping[str, Any] | Sequence[Any] | None,
    columns: Sequence[tuple[IdentifierType, str]],
    *,
    log: Any,
    what: str,
    chunk_size: int,
    derive: bool = False,
    opened: Callable[[], object] | None = None,
    spilling: Spilling | None = None,
    on_run: RunSink | None = None,
) -> Read:
    """Stream the identifier ``columns`` (each identifier type with its column) and keep each type's
    distinct valid values.

    ``what`` names the rows in the task log; they are fetched ``chunk_size`` at a time. ``Read.counts``
    says what was read of each type. A column feeds one member set per form of its type (e-mails given
    as MD5 digests are kept apart). With ``derive`` (erasure), the keys other forms have of the valid
    values are kept in ``Read.derived``. A SQLite table holding TEXT that is not UTF-8 is read again,
    such values counted as ``not_text``. ``opened`` runs once the query ran and has the columns, before
    any row is taken: cheap checks fail there without the whole source being read. With ``spilling``,
    the member sets share its memory budget and spill sorted runs to disk past it; ``on_run`` then
    takes each run of a member list as it goes to disk, to send it while the rest is read.
    """
    kinds = [kind for kind, _ in columns]
    source = functools.partial(stream_columns, hook, query, parameters, [c for _, c in columns], chunk_size)
    once = functools.cache(opened) if opened is not None else None  # the re-read does not check again
    try:
        read = _read(kinds, _opening(source(), once), log, derive, spilling, on_run)
    except UndecodableTextError:
        log.warning(
            "The source holds text that is not UTF-8: reading it again, counting such values as not_text."
        )
        if on_run is not None:  # the second reading may differ: it is sent whole, once read
            on_run.forget()
        read = _read(kinds, _opening(source(tolerant=True), once), log, derive, spilling, None)
    counted = read.counts
    for kind in kinds:
        distinct = sum(len(members) for form, members in read.members if form.name == kind.name)
        log.info(
            "Read %d rows of %s, %s: %d valid (%d distinct, %d given as digests), %d rejected.",
            read.rows,
            what,
            kind.name,
            counted[kind.name].valid,
            distinct,
            counted[kind.name].prehashed,
            counted[kind.name].invalid,
        )
    runs = sum(members.spilled_runs for _, members in [*read.members, *read.derived])
    if runs and spilling is not None:
        log.info(
            "Members past the memory budget (%s bytes) were sorted on disk in %d runs, under %s.",
            f"{spilling.budget:,}",
            runs,
            spilling.folder.base,
        )
    return read


def _opening(chunks: Chunks, opened: Callable[[], object] | None) -> Iterator[list[Sequence[Any]]]:
    """The chunks, with ``opened`` run once the query ran and found its columns (at the first chunk)."""
    with closing(chunks):
        first = next(chunks, None)
        if opened is not None:
            opened()
        if first is not None:
            yield first
            yield from chunks


def _read(
    kinds: list[IdentifierType],
    chunks: Iterable[list[Sequence[Any]]],
    log: Any,
    derive: bool,
    spilling: Spilling | None,
    on_run: RunSink | None,
) -> Read:
    """Read every chunk into fresh member sets and counts (frozen at the end)."""
    counts = {kind.name: ReadCounts() for kind in kinds}
    forms_of = [list(kind.forms) for kind in kinds]
    derived_of = [[form for form in kind.forms if derive and form.key_of_plain] for kind in kinds]
    share = None if spilling is None else spilling.share(sum(map(len, forms_of)) + sum(map(len, derived_of)))
    lists = [[(form, form.new_members(share)) for form in forms] for forms in forms_of]
    derived = [[(form, form.new_members(share)) for form in forms] for forms in derived_of]
    if on_run is not None:
        for form, members in (entry for forms in lists for entry in forms):
            members.send_runs_to(functools.partial(on_run.take, form))
    rejected_rows: list[str] = []
    rows = rows_without_identifier = 0
    progress = Progress(log, "read", "rows")
    for chunk in chunks:
        rejections: Counter[int] = Counter()  # per row of the chunk, how many of its values were rejected
        for kind, forms, others, values in zip(kinds, lists, derived, chunk, strict=True):
            prepared = kind.collect(values, forms, others)
            counts[kind.name].take(prepared)
            for position, rejection in prepared.rejected:
                rejections[position] += 1
                if len(rejected_rows) < REJECTED_ROWS_LOGGED:
                    label = "" if len(kinds) == 1 else f" {kind.name}"
                    rejected_rows.append(f"row {rows + position + 1}{label}: {rejection.value}")
        rows_without_identifier += sum(n == len(kinds) for n in rejections.values())
        rows += len(chunk[0])
        progress.update(rows)
    for kind, forms in zip(kinds, lists, strict=True):
        for _, members in forms:
            members.freeze()
        counts[kind.name].duplicates = counts[kind.name].valid - sum(len(members) for _, members in forms)
    if rejected_rows:
        log.warning("First rejected values (by row position, values withheld): %s", "; ".join(rejected_rows))
    for forms in derived:
        for _, members in forms:
            members.freeze()
    read = Read(
        [entry for forms in lists for entry in forms],
        rows,
        rows_without_identifier,
        [entry for forms in derived for entry in forms],
        counts,
    )
    return read
