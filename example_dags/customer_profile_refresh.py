"""Customer profile refresh: unify the CRM contacts into profiles, then compute segment membership.

Runs daily in the demo warehouse (connection ``demo_warehouse``; SQLite by default). Its last task
updates the asset ``warehouse://demo/segment_members``, which schedules ``criteo_segment_export``: every
refresh is followed by an export.

Sources (``crm_contacts``, ``customer_activity``) are loaded by ``scripts/demo``; in a real warehouse
your ELT lands them. To give each export something to send, ``simulate_customer_activity`` plays one
day of customer life per run, deterministically from the run's number: every customer's last order
gets a day older, about 1% order again and about 0.5% change their newsletter choice, so people join
and leave segments.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import DAG, Asset
from criteo_examples import SEGMENT_MEMBERS_URI, SEGMENTS, WAREHOUSE_CONN_ID

# The number of the refresh being run (refresh_runs gets one row per run, in its first statement).
RUN_NUMBER = "(SELECT MAX(run_number) FROM refresh_runs)"


def picked(salt: int, per_mille: int) -> str:
    """A SQL condition true for a deterministic ``per_mille`` share of customers, different each run."""
    return f"(customer_id * 2654435761 + {RUN_NUMBER} * {salt}) % 1000 < {per_mille}"


SIMULATE_ACTIVITY = [
    "CREATE TABLE IF NOT EXISTS refresh_runs (run_number INTEGER PRIMARY KEY, refreshed_at TEXT NOT NULL)",
    "INSERT INTO refresh_runs (run_number, refreshed_at) "
    "SELECT COALESCE(MAX(run_number), 0) + 1, CURRENT_TIMESTAMP FROM refresh_runs",
    "UPDATE customer_activity SET days_since_last_order = days_since_last_order + 1",
    "UPDATE customer_activity SET orders = orders + 1, days_since_last_order = 0, "
    f"lifetime_value = lifetime_value + 20 + (customer_id * 31 + {RUN_NUMBER} * 17) % 280 "
    f"WHERE {picked(97531, 10)}",
    f"UPDATE customer_activity SET newsletter_opt_in = 1 - newsletter_opt_in WHERE {picked(7919, 5)}",
]

# One profile per customer: the e-mail and phone of its latest CRM contact record, as the CRM holds them
# (cleaning them is the export's job), with the customer's activity and mobile ad id. Rebuilt each time.
BUILD_PROFILES = [
    "DROP TABLE IF EXISTS customer_profiles",
    "CREATE TABLE customer_profiles (customer_id INTEGER PRIMARY KEY, email TEXT, phone TEXT, "
    "mobile_ad_id TEXT, lifetime_value REAL NOT NULL, orders INTEGER NOT NULL, "
    "days_since_last_order INTEGER NOT NULL, newsletter_opt_in INTEGER NOT NULL)",
    "INSERT INTO customer_profiles "
    "SELECT a.customer_id, c.email, c.phone, a.mobile_ad_id, a.lifetime_value, a.orders, "
    "a.days_since_last_order, a.newsletter_opt_in "
    "FROM customer_activity a LEFT JOIN ("
    "SELECT customer_id, email, phone, ROW_NUMBER() OVER "
    "(PARTITION BY customer_id ORDER BY updated_at DESC, contact_id DESC) AS recency FROM crm_contacts"
    ") c ON c.customer_id = a.customer_id AND c.recency = 1",
]

BUILD_SEGMENT_MEMBERS = [
    "DROP TABLE IF EXISTS segment_members",
    "CREATE TABLE segment_members (segment TEXT NOT NULL, customer_id INTEGER NOT NULL, "
    "email TEXT, phone TEXT, mobile_ad_id TEXT)",
    "INSERT INTO segment_members (segment, customer_id, email, phone, mobile_ad_id) "
    + " UNION ALL ".join(
        f"SELECT '{name}', customer_id, email, phone, mobile_ad_id FROM customer_profiles "
        f"WHERE {segment.rule}"
        for name, segment in SEGMENTS.items()
    ),
]

with DAG(
    dag_id="customer_profile_refresh",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["criteo", "example"],
    doc_md=__doc__,
    default_args={"conn_id": WAREHOUSE_CONN_ID, "do_xcom_push": False},
) as dag:
    # Each task's statements run in one transaction: readers see the old tables or the new ones.
    simulate = SQLExecuteQueryOperator(
        task_id="simulate_customer_activity",
        sql=SIMULATE_ACTIVITY,
    )
    profiles = SQLExecuteQueryOperator(
        task_id="build_customer_profiles",
        sql=BUILD_PROFILES,
    )
    members = SQLExecuteQueryOperator(
        task_id="build_segment_members",
        sql=BUILD_SEGMENT_MEMBERS,
        outlets=[Asset(SEGMENT_MEMBERS_URI)],
    )
    simulate >> profiles >> members
