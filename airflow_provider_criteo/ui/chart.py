"""An audience's size and match rate, export after export, as an SVG drawn by hand.

No plotting library and no asset from the internet: the view embeds the SVG in its page, the demo
writes it to a file.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape

if TYPE_CHECKING:
    from collections.abc import Sequence

COLOURS = ("#f48120", "#2b6cb0", "#2f855a", "#9b2c2c", "#6b46c1", "#319795")
WIDTH, PANEL_HEIGHT, LEFT, RIGHT, TOP, GAP = 720, 200, 70, 170, 40, 80
PLOT_WIDTH = WIDTH - LEFT - RIGHT
#: The audiences a panel's legend names; past them it says how many more there are.
LEGEND_ROWS = 10


@dataclass(frozen=True)
class Series:
    """One audience's history: size and match rate (a fraction) per export, oldest first; None where
    Criteo had not computed them. With ``times`` (when each export ran) the audiences of one chart
    share a time axis; without, exports are numbered."""

    name: str
    sizes: list[int | None]
    match_rates: list[float | None]
    times: list[datetime.datetime] | None = None


@dataclass(frozen=True)
class Axis:
    """Where an export sits across the plot: by its time when every series has times, else by number."""

    series: Sequence[Series]

    @property
    def timed(self) -> bool:
        """Whether the exports sit by their times (every series has them)."""
        return bool(self.series) and all(s.times is not None for s in self.series)

    @property
    def _span(self) -> tuple[float, float]:
        """The first and last export's time, in seconds since the epoch."""
        stamps = [t.timestamp() for s in self.series for t in s.times or ()]
        return (min(stamps), max(stamps)) if stamps else (0.0, 0.0)

    @property
    def _runs(self) -> int:
        """The most exports of one series."""
        return max((len(s.sizes) for s in self.series), default=0)

    def _at_time(self, stamp: float) -> float:
        low, high = self._span
        return LEFT + PLOT_WIDTH * (stamp - low) / ((high - low) or 1.0)

    def _at_number(self, index: int) -> float:
        return LEFT + PLOT_WIDTH * index / max(self._runs - 1, 1)

    def x(self, series: Series, index: int) -> float:
        """The x of export ``index`` of ``series``."""
        if self.timed and series.times is not None:
            return self._at_time(series.times[index].timestamp())
        return self._at_number(index)

    def ticks(self) -> list[tuple[float, str]]:
        """The labelled positions: the first and last time (none without any), or each export's number."""
        if not self.timed:
            return [(self._at_number(i), str(i + 1)) for i in range(self._runs)]
        if not self._runs:
            return []
        low, high = self._span
        label = _time_format(high - low)
        return [
            (self._at_time(stamp), datetime.datetime.fromtimestamp(stamp, datetime.UTC).strftime(label))
            for stamp in sorted({low, high})
        ]


def _time_format(span: float) -> str:
    """How precisely to label a time axis spanning ``span`` seconds: to the day, minute or second."""
    if span >= 2 * 86_400:
        return "%Y-%m-%d"
    return "%Y-%m-%d %H:%M" if span >= 600 else "%Y-%m-%d %H:%M:%S"


def as_fraction(match_rate: float) -> float:
    """Criteo's matchRate as a fraction: it calls it a percentage without saying 0-1 or 0-100."""
    return match_rate / 100 if match_rate > 1 else match_rate


def _polylines(values: Sequence[float | None], xs: Sequence[float], top: float, high: float) -> list[str]:
    """The points of each unbroken stretch of ``values`` (a None breaks the line)."""
    stretches: list[list[str]] = [[]]
    for value, x in zip(values, xs, strict=True):
        if value is None:
            stretches.append([])
        else:
            y = top + PANEL_HEIGHT * (1 - value / (high or 1.0))
            stretches[-1].append(f"{x:.1f},{y:.1f}")
    return [" ".join(points) for points in stretches if points]


def _panel(
    title: str,
    top: float,
    axis: Axis,
    series: list[tuple[Series, list[float | None]]],
    high: float,
    label: str,
) -> list[str]:
    """One chart panel: a frame, its scale and one line per audience, labelled at the right."""
    parts = [
        f'<text x="{LEFT}" y="{top - 12}" font-weight="bold">{escape(title)}</text>',
        f'<rect x="{LEFT}" y="{top}" width="{PLOT_WIDTH}" height="{PANEL_HEIGHT}" '
        'fill="none" stroke="#ccc"/>',
        f'<text x="{LEFT - 8}" y="{top + 4}" text-anchor="end">{label.format(high)}</text>',
        f'<text x="{LEFT - 8}" y="{top + PANEL_HEIGHT}" text-anchor="end">{label.format(0)}</text>',
    ]
    parts += [
        f'<text x="{x:.1f}" y="{top + PANEL_HEIGHT + 16}" text-anchor="middle">{escape(text)}</text>'
        for x, text in axis.ticks()
    ]
    for index, (line, values) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        # Past the colours, the lines are dashed: twelve audiences stay apart.
        dashes = ' stroke-dasharray="6 3"' if index // len(COLOURS) % 2 else ""
        xs = [axis.x(line, i) for i in range(len(values))]
        for points in _polylines(values, xs, top, high):
            parts.append(
                f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dashes}/>'
            )
            if " " not in points:  # a single export: a dot, not an invisible line
                cx, cy = points.split(",")
                parts.append(f'<circle cx="{cx}" cy="{cy}" r="3" fill="{colour}"/>')
        if index < LEGEND_ROWS:
            legend = top + 16 + 18 * index
            parts.append(
                f'<text x="{WIDTH - RIGHT + 12}" y="{legend}" fill="{colour}">{escape(line.name)}</text>'
            )
    if len(series) > LEGEND_ROWS:
        more = top + 16 + 18 * LEGEND_ROWS
        parts.append(f'<text x="{WIDTH - RIGHT + 12}" y="{more}">and {len(series) - LEGEND_ROWS} more</text>')
    return parts


def history_svg(series: Sequence[Series], x_label: str = "export (UTC)") -> str:
    """An SVG of the audiences' sizes (top) and match rates (bottom) over their exports."""
    height = TOP + 2 * PANEL_HEIGHT + GAP + 40
    axis = Axis(series)
    sizes = [(s, [None if v is None else float(v) for v in s.sizes]) for s in series]
    rates = [(s, s.match_rates) for s in series]
    high = max((v for _, values in sizes for v in values if v is not None), default=1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12" role="img" '
        'aria-label="Audience size and match rate, export after export">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        *_panel("Audience size (identifiers)", TOP, axis, sizes, high, "{:,.0f}"),
        *_panel("Match rate", TOP + PANEL_HEIGHT + GAP, axis, rates, 1.0, "{:.0%}"),
        f'<text x="{(WIDTH - RIGHT + LEFT) / 2}" y="{height - 10}" text-anchor="middle">'
        f"{escape(x_label)}</text>",
        "</svg>",
    ]
    return "\n".join(parts) + "\n"
