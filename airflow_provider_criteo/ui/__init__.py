"""The Criteo view of the Airflow UI: the exports' audiences, their last runs and their history, and the
export task's link to its own page. Served by an Airflow plugin (:mod:`.plugin`) in the API server."""
