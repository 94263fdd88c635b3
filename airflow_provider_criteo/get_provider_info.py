"""Provider registration read by Airflow's ProvidersManager (entry point ``apache_airflow_provider``).

The connection form is declared here (``conn-fields`` and ``ui-field-behaviour``), so the Airflow UI
renders it without importing the hook.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_criteo import __version__
from airflow_provider_criteo.defaults import CONN_TYPE, DEFAULT_API_VERSION, DEFAULT_HOST

INTEGRATION = "Criteo"


def get_provider_info() -> dict[str, Any]:
    """Describe the provider, its Criteo connection type and the form fields of that type."""
    return {
        "package-name": "airflow-provider-criteo",
        "name": "Criteo",
        "description": "Export customer segments from any SQL warehouse to Criteo contact-list audiences.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "external-doc-url": "https://developers.criteo.com/marketing-solutions/docs/audience-segments",
                "tags": ["service"],
            }
        ],
        "operators": [
            {
                "integration-name": INTEGRATION,
                "python-modules": [
                    "airflow_provider_criteo.operators.segment_export",
                    "airflow_provider_criteo.operators.erase",
                ],
            }
        ],
        "hooks": [
            {"integration-name": INTEGRATION, "python-modules": ["airflow_provider_criteo.hooks.criteo"]}
        ],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_provider_criteo.hooks.criteo.CriteoHook",
                "hook-name": "Criteo",
                "conn-fields": {
                    "advertiser_id": {
                        "label": "Advertiser ID",
                        "description": "Default Criteo advertiser whose audiences the exports manage "
                        "(a task may override it).",
                        "schema": {"type": ["string", "null"], "pattern": r"^\d*$"},
                    },
                    "api_version": {
                        "label": "API version",
                        "description": "Criteo Marketing Solutions API version, e.g. 2026-07.",
                        "schema": {
                            "type": ["string", "null"],
                            "default": DEFAULT_API_VERSION,
                            "pattern": r"^(\d{4}-\d{2})?$",
                        },
                    },
                    "ca_bundle": {
                        "label": "CA bundle path",
                        "description": "Only behind a TLS-intercepting proxy: the file of CA certificates "
                        "to trust. TLS verification is always on.",
                        "schema": {"type": ["string", "null"]},
                    },
                    "data_transfer_consent": {
                        "label": "I agree to send customer data to Criteo",
                        "description": "Data privacy consent: member identifiers (hashed e-mails) leave "
                        "your warehouse for Criteo. Exports refuse to send anything until this is on.",
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "port"],
                    "relabeling": {"login": "Client ID", "password": "Client Secret", "host": "API URL"},
                    "placeholders": {
                        "login": "Criteo app client id",
                        "password": "Criteo app client secret",
                        "host": DEFAULT_HOST,
                        "advertiser_id": "12345",
                        "api_version": DEFAULT_API_VERSION,
                    },
                },
            }
        ],
    }
