"""The Criteo view's pages, rendered on the server from the templates next to this module.

Plain HTML with an inline SVG chart and no asset from the internet, so a page reads the same in
Airflow's frame, opened on its own, or on a phone; one small inline script hands links into Airflow
to its UI from the frame. Jinja escapes every value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from airflow_provider_criteo.ui.chart import history_svg
from airflow_provider_criteo.ui.links import URL_PREFIX, url_path

if TYPE_CHECKING:
    from airflow_provider_criteo.ui.chart import Series
    from airflow_provider_criteo.ui.exports import Audience, Export

#: The summary's counts the export page lists, in order, with their labels.
SUMMARY_ROWS = (
    ("rows_read", "Rows read"),
    ("valid", "Valid identifiers"),
    ("invalid", "Invalid identifiers"),
    ("duplicates", "Duplicates"),
    ("rows_without_identifier", "Rows without an identifier"),
    ("added", "Added"),
    ("removed", "Removed"),
    ("unchanged", "Unchanged"),
    ("requests", "Criteo calls"),
    ("audience_size", "Audience size (Criteo)"),
    ("match_rate", "Match rate (Criteo)"),
    ("criteo_count_before", "Criteo's count before"),
    ("drift", "Drift"),
)


def _count(value: Any) -> str:
    """A count with thousands separators; a dash when there is none."""
    return "-" if value is None else f"{int(value):,}"


def _rate(value: float | None) -> str:
    """A fraction as a percentage; a dash when there is none."""
    return "-" if value is None else f"{value:.1%}"


@cache
def _environment() -> Environment:
    """The templates' environment, with the filters and names they use."""
    environment = Environment(
        loader=PackageLoader("airflow_provider_criteo.ui", "templates"),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(count=_count, rate=_rate, path=lambda parts: url_path(*parts))
    environment.globals.update(summary_rows=SUMMARY_ROWS, prefix=URL_PREFIX)
    return environment


def _render(template: str, **values: Any) -> str:
    """A page from its template."""
    return _environment().get_template(template).render(**values)


@dataclass(frozen=True)
class History:
    """The audiences' series from the history table, by (advertiser, audience name), and a note when
    that table could not be read."""

    series: dict[tuple[str, str], Series] = field(default_factory=dict)
    note: str | None = None

    def chart(self, audiences: list[Audience]) -> Markup | None:
        """The audiences' chart: from the history table where it has them, else from their exports;
        None before any export sent something. An SVG drawn here, its text escaped as it is drawn."""
        series = [self.series.get((a.advertiser_id, a.name)) or a.series() for a in audiences]
        if not any(s.sizes for s in series):
            return None
        return Markup(history_svg(series))


def overview(audiences: list[Audience], history: History, *, root: str) -> str:
    """Every audience, per advertiser, with its last export and a chart per advertiser."""
    advertisers: dict[str, list[Audience]] = {}
    for audience in audiences:
        advertisers.setdefault(audience.advertiser_id, []).append(audience)
    charts = {advertiser: history.chart(listed) for advertiser, listed in advertisers.items()}
    return _render("overview.html", advertisers=advertisers, charts=charts, note=history.note, root=root)


def audience(audience: Audience, history: History, *, root: str) -> str:
    """One audience: its chart and every export of it the metadata database still holds."""
    chart = history.chart([audience])
    return _render("audience.html", audience=audience, chart=chart, note=history.note, root=root)


def export(export: Export, audience: Audience, *, root: str) -> str:
    """One export task instance: its summary as a table, per identifier type, and its audience."""
    return _render("export.html", export=export, audience=audience, root=root)
