"""What the example DAGs share: the demo warehouse, its segments, the asset and the run summary table.

This package sits beside the DAG files (the dags folder is on ``sys.path`` for Airflow's processes) and
is listed in ``.airflowignore``, so Airflow imports it but never parses it for DAGs. It imports nothing
from Airflow: ``scripts/demo`` reads it before it has set Airflow up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

WAREHOUSE_CONN_ID = "demo_warehouse"
CRITEO_POOL = "criteo_api"
CRITEO_POOL_SLOTS = 2
# The asset the last task of customer_profile_refresh updates; every update schedules criteo_segment_export.
SEGMENT_MEMBERS_URI = "warehouse://demo/segment_members"
# The warehouse table each export appends its summary to: audience size and match rate over time.
HISTORY_TABLE = "criteo_export_history"


@dataclass(frozen=True)
class Segment:
    """A marketing segment: which unified profiles belong to it, as a SQL condition on customer_profiles."""

    description: str
    rule: str


SEGMENTS: dict[str, Segment] = {
    "vip_buyers": Segment("Customers whose lifetime value is 1,000 or more", "lifetime_value >= 1000"),
    "churn_risk": Segment(
        "Repeat buyers without an order for more than 180 days",
        "orders >= 2 AND days_since_last_order > 180",
    ),
    "newsletter_subscribers": Segment("Customers who opted in to the newsletter", "newsletter_opt_in = 1"),
    "recent_buyers": Segment("Customers who ordered in the last 30 days", "days_since_last_order <= 30"),
    "frequent_buyers": Segment("Customers with ten orders or more", "orders >= 10"),
    "lapsed_buyers": Segment(
        "Customers without an order for more than a year", "days_since_last_order > 365"
    ),
}
SEGMENT_NAMES = list(SEGMENTS)

# The columns of an export's XCom summary shown in run reports: (summary key, heading).
SUMMARY_COLUMNS: tuple[tuple[str, str], ...] = (
    ("segment", "segment"),
    ("audience_id", "audience"),
    ("rows_read", "rows read"),
    ("rows_without_identifier", "no identifier"),
    ("duplicates", "duplicates"),
    ("added", "added"),
    ("removed", "removed"),
    ("unchanged", "unchanged"),
    ("requests", "requests"),
    ("audience_size", "audience holds"),
    ("match_rate", "match rate"),
)


def summary_table(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[tuple[str, str]] = SUMMARY_COLUMNS
) -> str:
    """Format run summaries as an aligned text table, one line per segment (counts only, no PII)."""
    cells = [[heading for _, heading in columns]]
    cells += [["-" if row.get(key) is None else str(row[key]) for key, _ in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = [
        "  ".join(
            cell.rjust(width) if i else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(line, widths, strict=True))
        )
        for line in cells
    ]
    return "\n".join(lines)
