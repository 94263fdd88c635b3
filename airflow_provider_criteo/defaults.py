"""Every default of the provider, in one place. Imports nothing: Airflow reads it while it starts up."""

from __future__ import annotations

CONN_TYPE = "criteo"
DEFAULT_CONN_ID = "criteo_default"
DEFAULT_HOST = "https://api.criteo.com"
DEFAULT_API_VERSION = "2026-07"
#: Criteo's rate limit of one app: calls per rolling minute.
DEFAULT_CALLS_PER_MINUTE = 250

#: Rows fetched from the database at a time.
DEFAULT_CHUNK_SIZE = 10_000
#: The most distinct members of one identifier type an export sends unless told otherwise.
DEFAULT_MAX_PROFILES = 1_000_000
#: Criteo allows about 1,000 audience segments per advertiser.
DEFAULT_MAX_AUDIENCES = 1_000
#: Criteo recommends at least 500 matched members; smaller audiences are not usable for delivery.
DEFAULT_MIN_AUDIENCE_SIZE = 500
