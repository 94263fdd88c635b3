"""Reading identifier columns from a SQL source into one member set per identifier type, counting.

Both operators read this way: the export (the members of a segment) and the erasure (the people to
forget). Rejected values are counted by type and reason and logged by row position only, never by
value.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from airflow_provider_criteo.identifier_types import IDENTIFIER_TYPES, identifier_type
from airflow_provider_criteo.progress import Progress
from airflow_provider_criteo.source import DEFAULT_CHUNK_SIZE, stream_columns

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from airflow.providers.common.sql.hooks.sql import DbApiHook

    from airflow_provider_criteo.identifier_types import IdentifierType
    from airflow_provider_criteo.identifiers import Rejection
    from airflow_provider_criteo.members import HashedMembers, MemberSet

    #: The member set of each identifier type read, in the order of its columns.
    Members = list[tuple[IdentifierType, MemberSet]]

# How many rejected values the task log lists by row position (never by value).
REJECTED_ROWS_LOGGED = 10


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


def reasons_of(counts: Iterable[ReadCounts]) -> dict[str, int]:
    """The rejected values by reason, over several identifier types."""
    reasons: Counter[str] = Counter()
    for counted in counts:
        reasons.update(counted.rejected_by_reason)
    return dict(reasons)


@dataclass
class Read:
    """The member sets read, frozen, and how many rows were read and had no usable identifier."""

    members: Members
    rows: int = 0
    rows_without_identifier: int = 0


def identifier_columns(
    column: str, columns: Mapping[str, str] | None, *, column_parameter: str = "email_column"
) -> dict[str, str]:
    """The column of each identifier type: ``columns`` if given, else ``column`` for e-mails.

    :param column_parameter: the operator's name for ``column``, for the error of passing both.
    """
    if columns is None:
        return {"email": column}
    if column != "email":
        raise ValueError(
            f"Pass {column_parameter} or identifier_columns, not both: name the e-mail column in the latter."
        )
    unknown = sorted(set(columns) - set(IDENTIFIER_TYPES))
    if unknown or not columns:
        raise ValueError(
            f"identifier_columns maps identifier types ({', '.join(IDENTIFIER_TYPES)}) to columns; "
            f"{f'unknown: {unknown}' if unknown else 'it names none'}."
        )
    return dict(columns)


def read_identifiers(
    hook: DbApiHook,
    query: str,
    parameters: Mapping[str, Any] | Sequence[Any] | None,
    columns: Mapping[str, str],
    counts: Mapping[str, ReadCounts],
    *,
    log: Any,
    what: str,
    hash_emails: bool = True,
    phone_country_code: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Read:
    """Stream the identifier ``columns`` (type -> column) and keep each type's distinct valid values.

    ``counts`` (one per type) receive the counts; ``what`` names the rows in the task log.
    """
    kinds = [
        identifier_type(name, hash_emails=hash_emails, phone_country_code=phone_country_code)
        for name in columns
    ]
    read = Read([(kind, kind.new_members()) for kind in kinds])
    rejected_rows: list[str] = []
    progress = Progress(log, "read", "rows")
    for chunk in stream_columns(hook, query, parameters, list(columns.values()), chunk_size):
        rejections: Counter[int] = Counter()  # per row of the chunk, how many of its values were rejected
        for (kind, members), values in zip(read.members, chunk, strict=True):
            for position, rejection in _take(kind, members, values, counts[kind.name]):
                rejections[position] += 1
                if len(rejected_rows) < REJECTED_ROWS_LOGGED:
                    label = "" if len(kinds) == 1 else f" {kind.name}"
                    rejected_rows.append(f"row {read.rows + position + 1}{label}: {rejection.value}")
        read.rows_without_identifier += sum(n == len(kinds) for n in rejections.values())
        read.rows += len(chunk[0])
        progress.update(read.rows)
    for kind, members in read.members:
        members.freeze()
        counted = counts[kind.name]
        counted.duplicates = counted.valid - len(members)
        log.info(
            "Read %d rows of %s, %s: %d valid (%d distinct, %d given as SHA-256), %d rejected.",
            read.rows,
            what,
            kind.name,
            counted.valid,
            len(members),
            counted.prehashed,
            counted.invalid,
        )
    if rejected_rows:
        log.warning("First rejected values (by row position, values withheld): %s", "; ".join(rejected_rows))
    return read


def _take(
    kind: IdentifierType, members: MemberSet, values: Sequence[object], counts: ReadCounts
) -> list[tuple[int, Rejection]]:
    """Prepare a chunk of one type's values into its member set, counting; return the rejected rows."""
    prepared = kind.prepare(values)
    members.add_many(prepared.valid)
    if prepared.hashed:  # only hashed types take values given as digests
        cast("HashedMembers", members).add_digests(prepared.hashed)
    counts.valid += len(prepared.valid) + len(prepared.hashed)
    counts.prehashed += len(prepared.hashed)
    for _, rejection in prepared.rejected:
        counts.reject(rejection)
    return prepared.rejected
