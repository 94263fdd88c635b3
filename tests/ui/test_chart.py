"""The SVG chart of audiences' sizes and match rates, drawn without any plotting library."""

from __future__ import annotations

import datetime
import re
import xml.etree.ElementTree as ET

from airflow_provider_criteo.ui.chart import Series, as_fraction, history_svg

SVG = "{http://www.w3.org/2000/svg}"
START = datetime.datetime(2026, 12, 1, tzinfo=datetime.UTC)


def points(svg: str) -> list[list[tuple[float, float]]]:
    """Each polyline's points."""
    return [
        [tuple(map(float, point.split(","))) for point in line.get("points", "").split()]
        for line in ET.fromstring(svg).iter(f"{SVG}polyline")
    ]


def test_audiences_share_a_time_axis():
    hours = [START + datetime.timedelta(hours=h) for h in range(3)]
    daily = Series("daily", [100, 110, 120], [0.5, 0.6, 0.7], hours)
    late = Series("late", [50], [0.4], hours[2:])  # exported once, at the last time
    svg = history_svg([daily, late])
    sizes_daily, sizes_late, *_ = points(svg)
    assert sizes_late[0][0] == sizes_daily[-1][0]  # at the same x as the daily audience's last export
    assert "2026-12-01 00:00</text>" in svg  # two hours: labelled to the minute
    assert "2026-12-01 02:00</text>" in svg


def test_without_times_exports_are_numbered():
    svg = history_svg([Series("a", [100, 200, 300], [0.1, 0.2, 0.3])], "export after profile refresh #")
    labels = [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]
    assert [label for label in labels if label in {"1", "2", "3"}] == ["1", "2", "3"] * 2  # both panels
    assert "export after profile refresh #" in labels


def test_a_missing_statistic_breaks_the_line_and_a_lone_export_is_a_dot():
    svg = history_svg([Series("gaps", [10, None, 30, 40], [0.5, None, None, 0.6])])
    sizes, *rest = points(svg)
    assert len(sizes) == 1  # the first size stands alone
    assert len(rest[0]) == 2  # then 30 and 40
    assert len(ET.fromstring(svg).findall(f".//{SVG}circle")) >= 2  # 10, and the rates' two lone points


def test_names_are_escaped_and_the_svg_scales():
    svg = history_svg([Series("<script>alert(1)</script>", [1], [0.5])])
    assert "<script>" not in svg
    root = ET.fromstring(svg)  # well-formed
    assert re.fullmatch(r"0 0 \d+ \d+", root.get("viewBox", ""))


def test_match_rates_read_as_fractions_whatever_scale_criteo_used():
    assert as_fraction(87.5) == 0.875
    assert as_fraction(0.875) == 0.875
