"""GDPR erasure: forget people in every Criteo audience this provider manages.

Data protection requests land in the warehouse table ``erasure_requests`` (one e-mail address, or its
SHA-256 digest, per row). Each run removes those people from every audience tagged as managed by this
provider for the connection's advertiser, removes their digests from the mirror snapshots, and appends
an audit row (when, which audiences, how many, the digests; never an address) to ``erasure_audit``.
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
        sql="SELECT email FROM erasure_requests",
        audit_table="erasure_audit",
        pool=CRITEO_POOL,
    )
