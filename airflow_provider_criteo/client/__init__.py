"""HTTP plumbing for Criteo's API, no Airflow: transport, errors, retry, rate limit, resources, wire."""
