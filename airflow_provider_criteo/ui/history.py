"""The audiences' longer history, from the warehouse table the exports append to (``history_table``).

Airflow's metadata database keeps a run's summary only until ``airflow db clean`` removes it; with
``[criteo] history_table`` (and ``history_conn_id``) set where the API server runs, the view charts
what that table holds instead.
"""

from __future__ import annotations

import datetime
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.exceptions import CriteoConfigurationError
from airflow_provider_criteo.segments.source import get_sql_hook, quote_name
from airflow_provider_criteo.ui.chart import Series, as_fraction
from airflow_provider_criteo.ui.exports import CHART_RUNS

if TYPE_CHECKING:
    from collections.abc import Collection

#: The most recent history rows the view reads.
MAX_ROWS = 20_000


@dataclass(frozen=True)
class HistoryTable:
    """The history table of connection ``conn_id``."""

    conn_id: str
    table: str

    @classmethod
    def configured(cls) -> HistoryTable | None:
        """The table ``[criteo] history_table`` of ``[criteo] history_conn_id``; None when not set.

        :raises CriteoConfigurationError: for a table without its connection.
        """
        from airflow.configuration import conf

        table = conf.get("criteo", "history_table", fallback=None)
        if not table:
            return None
        conn_id = conf.get("criteo", "history_conn_id", fallback=None)
        if not conn_id:
            raise CriteoConfigurationError(
                "[criteo] history_table is set without [criteo] history_conn_id, the connection of the "
                "warehouse holding it (AIRFLOW__CRITEO__HISTORY_CONN_ID)."
            )
        return cls(conn_id, table)

    def series(self, dag_ids: Collection[str], runs: int = CHART_RUNS) -> dict[tuple[str, str], Series]:
        """Each audience's last ``runs`` exports that sent something, by (advertiser, audience name),
        from the rows of the DAGs ``dag_ids``; read at most once a minute for the same DAGs."""
        key = (self, frozenset(dag_ids), runs)
        cached = _CACHE.get(key)
        if cached is None or cached[0] < time.monotonic():
            cached = (time.monotonic() + CACHE_SECONDS, self._read(sorted(dag_ids), runs))
            _CACHE.clear()  # one entry per table and reader is enough: the last one asked
            _CACHE[key] = cached
        return cached[1]

    def _read(self, dag_ids: list[str], runs: int) -> dict[tuple[str, str], Series]:
        """The series, read from the table: its newest rows of ``dag_ids`` (bound, never spliced)."""
        if not dag_ids:
            return {}
        hook = get_sql_hook(self.conn_id)

        def column(name: str) -> str:
            return quote_name(hook, name, max_parts=1)

        names = ", ".join(map(column, ("advertiser_id", "audience_name", "exported_at", "audience_size")))
        query = (
            f"SELECT {names}, {column('match_rate')} FROM {quote_name(hook, self.table)} "
            f"WHERE COALESCE({column('dry_run')}, 0) = 0 "
            f"AND {column('dag_id')} IN ({', '.join([hook.placeholder] * len(dag_ids))}) "
            f"ORDER BY {column('exported_at')} DESC"
        )
        rows = hook.run(query, parameters=dag_ids, handler=lambda cursor: cursor.fetchmany(MAX_ROWS)) or []
        points: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
        for advertiser, name, at, size, rate in rows:
            newest = points[(str(advertiser), str(name))]
            if len(newest) < runs:
                newest.append((_time(at), size, rate))
        return {
            key: Series(
                key[1],
                [None if size is None else int(size) for _, size, _ in newest[::-1]],
                [None if rate is None else as_fraction(float(rate)) for *_, rate in newest[::-1]],
                [at for at, *_ in newest[::-1]],
            )
            for key, newest in points.items()
        }


#: How long the view reuses what it read of the history table.
CACHE_SECONDS = 60.0
_CACHE: dict[tuple[HistoryTable, frozenset[str], int], tuple[float, dict[tuple[str, str], Series]]] = {}


def _time(value: Any) -> datetime.datetime:
    """``exported_at`` as an aware time: the exports write UTC ISO-8601 text; a driver may hand back a
    datetime, or a number of seconds since the epoch."""
    if isinstance(value, int | float):
        return datetime.datetime.fromtimestamp(value, datetime.UTC)
    at = value if isinstance(value, datetime.datetime) else datetime.datetime.fromisoformat(str(value))
    return at if at.tzinfo else at.replace(tzinfo=datetime.UTC)
