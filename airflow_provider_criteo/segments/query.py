"""Where a segment (or a list of erasure requests) is read from, and reading it into member sets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.defaults import DEFAULT_CHUNK_SIZE
from airflow_provider_criteo.identifiers.registry import IDENTIFIER_TYPES, identifier_type
from airflow_provider_criteo.segments.reading import read_identifiers
from airflow_provider_criteo.segments.source import get_sql_hook, source_query

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from airflow_provider_criteo.identifiers.forms import IdentifierForm, IdentifierType
    from airflow_provider_criteo.segments.key_files import Spilling
    from airflow_provider_criteo.segments.reading import Read, RunSink


@dataclass(frozen=True)
class SegmentQuery:
    """Rows of identifiers in a common-sql database: a query or a table, and a column per identifier type.

    :param columns: the column of each identifier type (``{"email": "email", "phoneNumber": "phone"}``).
    :param phone_region: the region of phone numbers written without a country code.
    """

    conn_id: str
    sql: str | None
    table: str | None
    parameters: Mapping[str, Any] | Sequence[Any] | None
    columns: Mapping[str, str]
    phone_region: str | None = None
    hash_emails: bool = True
    chunk_size: int = DEFAULT_CHUNK_SIZE

    def identifier_types(self) -> list[IdentifierType]:
        """The identifier type of each column, in order."""
        return [
            identifier_type(name, hash_emails=self.hash_emails, phone_region=self.phone_region)
            for name in self.columns
        ]

    def forms(self) -> list[IdentifierForm]:
        """The member lists the rows feed: every form of every identifier type read."""
        return [form for kind in self.identifier_types() for form in kind.forms]

    def read(
        self,
        *,
        log: Any,
        what: str,
        derive: bool = False,
        opened: Callable[[], object] | None = None,
        spilling: Spilling | None = None,
        on_run: RunSink | None = None,
    ) -> Read:
        """Stream the rows and keep each type's distinct valid members (see :func:`read_identifiers`).

        ``opened`` runs once the query ran and has its columns, before the rows are read; with
        ``spilling``, members past its memory budget are kept on disk, and each run of them goes to
        ``on_run`` as it does.
        """
        hook = get_sql_hook(self.conn_id)
        return read_identifiers(
            hook,
            source_query(hook, self.sql, self.table, self.columns.values()),
            self.parameters,
            list(zip(self.identifier_types(), self.columns.values(), strict=True)),
            log=log,
            what=what,
            chunk_size=self.chunk_size,
            derive=derive,
            opened=opened,
            spilling=spilling,
            on_run=on_run,
        )


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
