"""GDPR erasure: forget people in every Criteo audience this provider manages.

Data protection requests land in the warehouse table ``erasure_requests``: per person, the e-mail
address (or its SHA-256 digest), phone number and mobile ad id the export may have sent, any of them
NULL when unknown. Each run removes those identifiers from every audience tagged as managed by this
provider for the connection's advertiser and from the mirror snapshots, and appends an audit row (when,
which audiences, how many, SHA-256 digests; never an identifier in plain) to ``erasure_audit``.
The segment queries of ``criteo_segment_export`` should exclude erased people too, or a later export
adds them again.
"""

from __future__ import annotations

from airflow.sdk import DAG
from criteo_examples import CRITEO_POOL, WAREHOUSE_CONN_ID

from airflow_provider_criteo.operators.erase import CriteoEraseOperator

with DAG(
    dag_id="criteo_gdpr_erasure",
    schedule="@daily",
    catchup=False,
    tags=["criteo", "example", "privacy"],
    doc_md=__doc__,
) as dag:
    CriteoEraseOperator(
        task_id="erase_requested_people",
        sql_conn_id=WAREHOUSE_CONN_ID,
        sql="SELECT email, phone, mobile_ad_id FROM erasure_requests",
        # The identifier types criteo_segment_export sends.
        identifier_columns={"email": "email", "phoneNumber": "phone", "madid": "mobile_ad_id"},
        phone_region="FR",
        audit_table="erasure_audit",
        pool=CRITEO_POOL,
    )
