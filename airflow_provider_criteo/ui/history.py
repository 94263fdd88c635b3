"""The audiences' longer history, from the warehouse table the exports append to (``history_table``).

Airflow's metadata database keeps a run's summary only until ``airflow db clean`` removes it; with
``[criteo] history_table`` (and ``history_conn_id``) set where the API server runs, the view charts
what that table holds instead.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.exceptions import CriteoConfigurationError
from airflow_provider_criteo.segments.source import get_sql_hook, quote_name
from airflow_provider_criteo.ui.chart import Series, as_fraction

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

    def series(self, dag_ids: Collection[str], runs: int) -> dict[tuple[str, str], Series]:
        """Each audience's last ``runs`` exports that sent something, by (advertiser, audience name),
        from the rows of the DAGs ``dag_ids``."""
        hook = get_sql_hook(self.conn_id)
        columns = ("dag_id", "advertiser_id", "audience_name", "exported_at", "audience_size", "match_rate")
        names = ", ".join(quote_name(hook, name, max_parts=1) for name in columns)
        query = (
            f"SELECT {names} FROM {quote_name(hook, self.table)} "
            f"WHERE {quote_name(hook, 'dry_run', max_parts=1)} = 0 "
            f"ORDER BY {quote_name(hook, 'exported_at', max_parts=1)} DESC"
        )
        rows = hook.run(query, handler=lambda cursor: cursor.fetchmany(MAX_ROWS)) or []
        points: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
        for dag_id, advertiser, name, at, size, rate in rows:
            key = (str(advertiser), str(name))
            if dag_id in dag_ids and len(points[key]) < runs:
                points[key].append((_time(at), size, rate))
        return {
            key: Series(
                key[1],
                [None if size is None else int(size) for _, size, _ in newest[::-1]],
                [None if rate is None else as_fraction(float(rate)) for *_, rate in newest[::-1]],
                [at for at, *_ in newest[::-1]],
            )
            for key, newest in points.items()
        }


def _time(value: Any) -> datetime.datetime:
    """``exported_at`` as an aware time: stored as ISO-8601 text, or as a timestamp by some drivers."""
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
    return datetime.datetime.fromisoformat(str(value))
