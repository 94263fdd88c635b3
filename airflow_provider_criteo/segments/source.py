"""Reading a segment's identifier columns from any common-sql connection, in chunks.

Rows are streamed with ``fetchmany`` (on PostgreSQL through a server-side cursor), so the worker
never holds a whole result set; from a database server, a reader thread fetches the next chunks
while the caller works on this one. Table names are validated and quoted, never interpolated raw.
"""

from __future__ import annotations

import contextlib
import operator
import queue
import re
import sqlite3
import threading
import uuid
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.exceptions import AirflowNotFoundException
from airflow.sdk import BaseHook

from airflow_provider_criteo.defaults import DEFAULT_CHUNK_SIZE
from airflow_provider_criteo.exceptions import CriteoConfigurationError, UndecodableTextError

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterable, Mapping, Sequence

    from airflow.providers.common.sql.hooks.sql import DbApiHook

    #: Chunks of rows, each as one sequence of values per column; closing it closes the connection.
    Chunks = Generator[list[Sequence[Any]], None, None]

#: Chunks the reader thread may fetch ahead of the caller (bounded: memory stays flat).
PREFETCH_CHUNKS = 2
#: Connection types whose driver runs the database in the worker's own process: read without a thread.
IN_PROCESS_CONN_TYPES = frozenset({"sqlite"})

# One part of a (schema-qualified) table name: a letter or underscore, then letters, digits, _ or $.
_IDENTIFIER_PART = re.compile(r"[^\W\d]\w*(?:\$\w*)*")


def get_sql_hook(conn_id: str) -> DbApiHook:
    """Return the common-sql hook of a connection, or fail saying why it cannot be read."""
    from airflow.providers.common.sql.hooks.sql import DbApiHook

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise CriteoConfigurationError(
            f"Unknown connection {conn_id!r}: define it in the Airflow UI, as AIRFLOW_CONN_"
            f"{conn_id.upper()} or in your secrets backend."
        ) from None
    hook = conn.get_hook()
    if not isinstance(hook, DbApiHook):
        raise CriteoConfigurationError(
            f"Connection {conn_id!r} is of type {conn.conn_type!r}, whose hook {type(hook).__name__} is not "
            "a SQL (common-sql DbApiHook) hook: point sql_conn_id at a database connection."
        )
    return hook


def quote_name(hook: DbApiHook, name: str, *, max_parts: int = 3) -> str:
    """Validate a table or column name (up to ``max_parts`` dotted parts) and quote each part.

    The quoting is the connection's (``escape_word_format``, ANSI double quotes by default), so a
    valid name is always read as a name and never as SQL.
    """
    parts = name.split(".")
    if not 1 <= len(parts) <= max_parts or not all(_IDENTIFIER_PART.fullmatch(p) for p in parts):
        raise CriteoConfigurationError(
            f"Unsafe name {name!r}: use letters, digits and underscores (tables may be schema-qualified, "
            "schema.table); for anything else, pass a sql query."
        )
    return ".".join(hook.escape_word_format.format(p) for p in parts)


def table_query(hook: DbApiHook, table: str, columns: Sequence[str]) -> str:
    """The query that reads some columns of a table or view."""
    names = ", ".join(quote_name(hook, column, max_parts=1) for column in columns)
    return f"SELECT {names} FROM {quote_name(hook, table)}"


def source_query(hook: DbApiHook, sql: str | None, table: str | None, columns: Iterable[str]) -> str:
    """The query to read: ``sql`` as given, else the ``columns`` of ``table``."""
    return sql if sql is not None else table_query(hook, table or "", list(columns))


def stream_columns(
    hook: DbApiHook,
    sql: str,
    parameters: Mapping[str, Any] | Sequence[Any] | None,
    columns: Sequence[str],
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    *,
    tolerant: bool = False,
) -> Chunks:
    """Yield chunks of at most ``chunk_size`` rows, each as one sequence of values per column of ``columns``.

    From a database server, a reader thread fetches up to ``PREFETCH_CHUNKS`` chunks ahead, so the
    server's work overlaps the caller's. SQLite runs in this process and builds its rows under the
    GIL, where a second thread only adds switching (about 15% of a read), so its rows are fetched as
    they are consumed. Fails before yielding anything when the result lacks one of the columns,
    naming those it has. A driver error while fetching rows may quote a value: it is raised again
    without its message. SQLite TEXT that is not UTF-8 raises :class:`UndecodableTextError`; with
    ``tolerant`` such values come as bytes, which the identifier rules count as ``not_text``.
    """
    chunks = _fetch_chunks(hook, sql, parameters, columns, chunk_size, tolerant)
    if getattr(hook, "conn_type", None) in IN_PROCESS_CONN_TYPES:
        return chunks
    return _prefetched(chunks)


def _fetch_chunks(
    hook: DbApiHook,
    sql: str,
    parameters: Mapping[str, Any] | Sequence[Any] | None,
    columns: Sequence[str],
    chunk_size: int,
    tolerant: bool,
) -> Chunks:
    """Run the query on a connection of its own and yield its chunks; closing this closes the connection."""
    with closing(hook.get_conn()) as conn:
        if tolerant and isinstance(conn, sqlite3.Connection):
            conn.text_factory = _text_or_bytes
        cursor = _streaming_cursor(hook, conn)
        try:
            _execute(cursor, sql, parameters)
            read = 0
            rows = _fetch(cursor, chunk_size, read)
            split = _splitter([_column_index(cursor.description, column) for column in columns])
            while rows:
                read += len(rows)
                yield split(rows)
                rows = _fetch(cursor, chunk_size, read)
        finally:
            cursor.close()


def _execute(cursor: Any, sql: str, parameters: Mapping[str, Any] | Sequence[Any] | None) -> None:
    """Run the query; a driver error keeps its type, but not the row values its message may quote.

    Drivers that run the whole query at once (MySQL's ``Truncated incorrect DOUBLE value:
    'jorg@example.com'``) quote row values in such errors. Names the query holds (tables, columns) are kept.
    """
    try:
        if parameters:
            cursor.execute(sql, parameters)
        else:
            cursor.execute(sql)
    except Exception as err:
        err.args = (_without_row_values(str(err), sql),)
        raise


#: A quoted fragment of a driver's message, and unquoted text that looks like an identifier of a person.
_QUOTED = re.compile(r"""(["'`])(.*?)\1""", re.DOTALL)
_VALUE_LIKE = re.compile(r"[^\s'\"`]+@[^\s'\"`]+|\+?\d[\d ().-]{5,}\d|\b[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}\b")


def _without_row_values(message: str, sql: str) -> str:
    """A driver's message without what may be row values: quoted fragments the query does not hold, and
    what looks like an e-mail address, a phone number or a device id."""
    folded = sql.casefold()
    words = set(re.findall(r"\w+", folded))

    def quoted(match: re.Match[str]) -> str:
        quote, text = match.group(1), match.group(2).casefold()
        named = text in folded or text.rpartition(".")[2] in words  # MySQL's 'database.table'
        return match.group(0) if named else f"{quote}<withheld>{quote}"

    return _VALUE_LIKE.sub("<withheld>", _QUOTED.sub(quoted, message))


def _fetch(cursor: Any, size: int, read: int) -> list[Any]:
    """The next rows; a driver error, which may quote a row's value, is raised again without its message."""
    try:
        return list(cursor.fetchmany(size))
    except Exception as err:
        if isinstance(err, sqlite3.OperationalError) and str(err).startswith("Could not decode to UTF-8"):
            raise UndecodableTextError from None
        raise CriteoConfigurationError(
            f"Reading the segment failed after {read:,} rows: the database driver raised "
            f"{type(err).__module__}.{type(err).__name__}, whose message is withheld as it may quote a value "
            "of a row. Check the identifier columns' types and encoding."
        ) from None


def _text_or_bytes(data: bytes) -> str | bytes:
    """SQLite TEXT as ``str``, or as the bytes they are when they are not UTF-8."""
    try:
        return data.decode()
    except UnicodeDecodeError:
        return data


def _prefetched(chunks: Chunks) -> Chunks:
    """Yield the chunks, which a reader thread pulls (and finally closes) up to ``PREFETCH_CHUNKS`` ahead."""
    queued: queue.Queue[Any] = queue.Queue(maxsize=PREFETCH_CHUNKS)
    stop = threading.Event()
    reader = threading.Thread(
        target=_read_ahead, args=(chunks, queued, stop), name="criteo-export-reader", daemon=True
    )
    reader.start()
    try:
        while (item := queued.get()) is not _END:
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        while reader.is_alive():  # let a reader waiting on a full queue see the stop, and close
            with contextlib.suppress(queue.Empty):
                queued.get_nowait()
            reader.join(0.01)


_END = object()


@dataclass(frozen=True)
class _Failure:
    """An exception of the reader thread, raised again in the caller's."""

    error: BaseException


def _read_ahead(chunks: Chunks, queued: queue.Queue[Any], stop: threading.Event) -> None:
    """The reader thread: queue the chunks, then ``_END`` (or the failure); the connection dies here."""
    try:
        with closing(chunks):
            for chunk in chunks:
                if not _put(queued, chunk, stop):
                    return
        _put(queued, _END, stop)
    except BaseException as err:
        _put(queued, _Failure(err), stop)


def _put(queued: queue.Queue[Any], item: object, stop: threading.Event) -> bool:
    """Queue ``item`` unless the caller stopped reading; return whether it was queued."""
    while not stop.is_set():
        with contextlib.suppress(queue.Full):
            queued.put(item, timeout=0.1)
            return True
    return False


def _streaming_cursor(hook: DbApiHook, conn: Any) -> Any:
    """A cursor that streams: server-side (named) on PostgreSQL, the driver's default elsewhere."""
    if type(conn).__module__.split(".")[0] in ("psycopg", "psycopg2"):
        cursor = conn.cursor(name=f"criteo_export_{uuid.uuid4().hex[:12]}")
        cursor.itersize = DEFAULT_CHUNK_SIZE
        return cursor
    return conn.cursor()


def _splitter(indexes: list[int]) -> Callable[[list[Any]], list[Sequence[Any]]]:
    """Turns fetched rows into one sequence of values per wanted column (in C: ``map``, ``zip``)."""
    if len(indexes) == 1:
        value = operator.itemgetter(indexes[0])
        return lambda rows: [list(map(value, rows))]
    values = operator.itemgetter(*indexes)
    return lambda rows: list(zip(*map(values, rows), strict=True))


def _column_index(description: Sequence[Sequence[Any]] | None, column: str) -> int:
    """Find the column by name; drivers differ in the case they report, so fall back to casefold."""
    names = [str(d[0]) for d in description or []]
    if column in names:
        return names.index(column)
    folded = [n.casefold() for n in names]
    if column.casefold() in folded:
        return folded.index(column.casefold())
    raise CriteoConfigurationError(
        f"The query returns no column {column!r}; its columns are {names}. Name one of them in email_column "
        "(or identifier_columns), or select the identifier column under that name."
    )
