"""The demo's export history as a chart: each audience's size and match rate, run after run.

Reads the history table the example export appends to (``history_table=``) and draws it as the
Criteo view of the Airflow UI does: the kind of chart marketing makes from that table.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from typing import TYPE_CHECKING

from airflow_provider_criteo.ui.chart import Series, as_fraction, history_svg

if TYPE_CHECKING:
    from pathlib import Path


def read_history(warehouse: Path, table: str) -> list[Series]:
    """Each segment's audience size and match rate over its non-dry-run exports."""
    with closing(sqlite3.connect(warehouse)) as db:
        rows = db.execute(
            f'SELECT segment, audience_size, match_rate FROM "{table}" '
            "WHERE dry_run = 0 AND audience_size IS NOT NULL AND match_rate IS NOT NULL ORDER BY exported_at"
        ).fetchall()
    series: dict[str, Series] = {}
    for segment, size, match_rate in rows:
        history = series.setdefault(segment, Series(segment, [], []))
        history.sizes.append(int(size))
        history.match_rates.append(as_fraction(float(match_rate)))
    return list(series.values())


def write_history_chart(warehouse: Path, table: str, path: Path) -> int:
    """Write the chart of the history table to ``path``; return how many exports it shows."""
    series = read_history(warehouse, table)
    path.write_text(history_svg(series, "export after profile refresh #"), encoding="utf-8")
    return sum(len(s.sizes) for s in series)
