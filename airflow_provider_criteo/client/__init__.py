"""HTTP plumbing for Criteo's API, no Airflow: retry and rate-limit rules, resources, wire encoding."""
