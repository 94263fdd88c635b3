"""The demo's export history as a chart: each audience's size and match rate, run after run.

Reads the history table the example export appends to (``history_table=``) and draws a small SVG
by hand (no plotting dependency): the kind of chart marketing makes from that table.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

COLOURS = ("#f48120", "#2b6cb0", "#2f855a", "#9b2c2c", "#6b46c1", "#319795")
WIDTH, PANEL_HEIGHT, LEFT, RIGHT, TOP, GAP = 720, 200, 70, 170, 40, 80


@dataclass(frozen=True)
class Series:
    """One audience's history: size and match rate per export, oldest first."""

    segment: str
    sizes: list[int]
    match_rates: list[float]


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


def as_fraction(match_rate: float) -> float:
    """Criteo's matchRate as a fraction: it calls it a percentage without saying 0-1 or 0-100."""
    return match_rate / 100 if match_rate > 1 else match_rate


def _polyline(values: Sequence[float], top: float, low: float, high: float, step: float) -> str:
    span = (high - low) or 1.0
    return " ".join(
        f"{LEFT + i * step:.1f},{top + PANEL_HEIGHT * (1 - (value - low) / span):.1f}"
        for i, value in enumerate(values)
    )


def _panel(
    title: str, top: float, series: list[tuple[str, list[float]]], low: float, high: float, label: str
) -> list[str]:
    """One chart panel: a frame, its scale and one line per segment, labelled at the right."""
    runs = max((len(values) for _, values in series), default=0)
    plot_width = WIDTH - LEFT - RIGHT
    parts = [
        f'<text x="{LEFT}" y="{top - 12}" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{top}" width="{plot_width}" height="{PANEL_HEIGHT}" '
        'fill="none" stroke="#ccc"/>',
        f'<text x="{LEFT - 8}" y="{top + 4}" text-anchor="end">{label.format(high)}</text>',
        f'<text x="{LEFT - 8}" y="{top + PANEL_HEIGHT}" text-anchor="end">{label.format(low)}</text>',
    ]
    step = plot_width / max(runs - 1, 1)
    parts += [
        f'<text x="{LEFT + i * step:.1f}" y="{top + PANEL_HEIGHT + 16}" text-anchor="middle">{i + 1}</text>'
        for i in range(runs)
    ]
    for index, (name, values) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        points = _polyline(values, top, low, high, step)
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>')
        y = top + 16 + 18 * index
        parts.append(f'<text x="{WIDTH - RIGHT + 12}" y="{y}" fill="{colour}">{escape(name)}</text>')
    return parts


def history_svg(series: list[Series]) -> str:
    """An SVG of the audiences' sizes (top) and match rates (bottom) over the exports."""
    height = TOP + 2 * PANEL_HEIGHT + GAP + 40
    sizes = [(s.segment, [float(v) for v in s.sizes]) for s in series]
    rates = [(s.segment, s.match_rates) for s in series]
    high = max((max(values) for _, values in sizes), default=1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        *_panel("Audience size (identifiers)", TOP, sizes, 0.0, high, "{:,.0f}"),
        *_panel("Match rate", TOP + PANEL_HEIGHT + GAP, rates, 0.0, 1.0, "{:.0%}"),
        f'<text x="{(WIDTH - RIGHT + LEFT) / 2}" y="{height - 10}" text-anchor="middle">'
        "export after profile refresh #</text>",
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def write_history_chart(warehouse: Path, table: str, path: Path) -> int:
    """Write the chart of the history table to ``path``; return how many exports it shows."""
    series = read_history(warehouse, table)
    path.write_text(history_svg(series), encoding="utf-8")
    return sum(len(s.sizes) for s in series)
