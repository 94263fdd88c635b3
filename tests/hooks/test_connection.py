from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from airflow.sdk import Connection

from airflow_provider_criteo.defaults import DEFAULT_API_VERSION, DEFAULT_HOST
from airflow_provider_criteo.exceptions import CriteoConfigurationError
from airflow_provider_criteo.hooks.connection import CriteoConnectionConfig


def config_from_env(monkeypatch, value: str) -> CriteoConnectionConfig:
    monkeypatch.setenv("AIRFLOW_CONN_CRITEO_TEST", value)
    return CriteoConnectionConfig.from_connection(Connection.get("criteo_test"))


def test_uri_with_defaults(monkeypatch):
    config = config_from_env(monkeypatch, "criteo://my-client:my%2Fsecret@?advertiser_id=42")
    assert config.client_id == "my-client"
    assert config.client_secret == "my/secret"
    assert config.base_url == DEFAULT_HOST
    assert config.api_version == DEFAULT_API_VERSION
    assert config.advertiser_id == "42"
    assert config.data_transfer_consent is False


def test_uri_with_an_emulator_host_and_string_extras(monkeypatch):
    uri = "criteo://id:secret@http%3A%2F%2F127.0.0.1%3A8089?api_version=2027-01&data_transfer_consent=true"
    config = config_from_env(monkeypatch, uri)
    assert config.base_url == "http://127.0.0.1:8089"
    assert config.api_version == "2027-01"
    assert config.data_transfer_consent is True


def test_json_with_bare_host_and_port(monkeypatch):
    value = {
        "conn_type": "criteo",
        "login": "id",
        "password": "secret",
        "host": "api.example.test",
        "port": 8443,
        "extra": {"advertiser_id": 7, "data_transfer_consent": True},
    }
    config = config_from_env(monkeypatch, json.dumps(value))
    assert config.base_url == "https://api.example.test:8443"
    assert config.advertiser_id == "7"
    assert config.data_transfer_consent is True


def test_repr_hides_the_secret():
    conn = Connection(conn_id="c", conn_type="criteo", login="id", password="top-secret-value")
    assert "top-secret-value" not in repr(CriteoConnectionConfig.from_connection(conn))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"password": "s"}, "no client id"),
        ({"login": "id"}, "no client secret"),
        ({"login": "id", "password": "s", "host": "ftp://x"}, "use a URL"),
        ({"login": "id", "password": "s", "extra": '{"advertiser_id": "12a"}'}, "numeric"),
        ({"login": "id", "password": "s", "extra": '{"api_version": "v2"}'}, "api_version 'v2'"),
        ({"login": "id", "password": "s", "extra": '{"data_transfer_consent": "maybe"}'}, "true or false"),
    ],
)
def test_bad_connections_say_what_to_fix(fields, message):
    conn = Connection(conn_id="c", conn_type="criteo", **fields)
    with pytest.raises(CriteoConfigurationError, match=message):
        CriteoConnectionConfig.from_connection(conn)


def test_connection_from_a_secrets_backend(tmp_path):
    """A secrets backend (here Airflow's local-filesystem one) serves the connection like any other."""
    connections = {
        "criteo_vault": {
            "conn_type": "criteo",
            "login": "vault-client",
            "password": "vault-secret",
            "extra": {"advertiser_id": "31337", "data_transfer_consent": True},
        }
    }
    (tmp_path / "connections.json").write_text(json.dumps(connections))
    backend_kwargs = json.dumps({"connections_file_path": str(tmp_path / "connections.json")})
    env = {
        **os.environ,
        "AIRFLOW__SECRETS__BACKEND": "airflow.secrets.local_filesystem.LocalFilesystemBackend",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": backend_kwargs,
    }
    script = (
        "from airflow_provider_criteo.hooks.criteo import CriteoHook\n"
        "c = CriteoHook('criteo_vault').config\n"
        "print(c.client_id, c.advertiser_id, c.data_transfer_consent)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.split()[-3:] == ["vault-client", "31337", "True"]
