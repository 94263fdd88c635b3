"""A DAG run by the end-to-end tests with ``dag.test()``: e-mails and phones in every form Criteo takes."""

from __future__ import annotations

from airflow.sdk import DAG

from airflow_provider_criteo.operators.segment_export import SegmentExportOperator

with DAG(dag_id="criteo_identifier_forms_e2e", schedule=None) as dag:
    SegmentExportOperator(
        task_id="export",
        segment="vip",
        sql_conn_id="warehouse",
        sql="SELECT email, phone FROM segment_members WHERE segment = :segment",
        parameters={"segment": "vip"},
        identifier_columns={"email": "email", "phoneNumber": "phone"},
        phone_region="FR",  # numbers written without a country code are French
        min_audience_size=1,
        hook_params={"retry_backoff": 0.01},
    )
