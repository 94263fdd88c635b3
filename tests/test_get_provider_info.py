from __future__ import annotations

import importlib
import json
from importlib.metadata import entry_points
from pathlib import Path

import airflow
import jsonschema
from airflow.providers_manager import ProvidersManager
from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

from airflow_provider_criteo.get_provider_info import get_provider_info


def test_provider_info_passes_airflows_schema():
    schema = json.loads((Path(airflow.__file__).parent / "provider_info.schema.json").read_text())
    jsonschema.validate(get_provider_info(), schema)


def test_entry_point_is_registered():
    (entry_point,) = [
        e
        for e in entry_points(group="apache_airflow_provider")
        if e.value.startswith("airflow_provider_criteo")
    ]
    assert entry_point.load() is get_provider_info


def test_every_listed_module_and_hook_class_imports():
    info = get_provider_info()
    for group in ("hooks", "operators"):
        for entry in info.get(group, []):
            for module in entry["python-modules"]:
                importlib.import_module(module)
    for conn_type in info["connection-types"]:
        module, _, name = conn_type["hook-class-name"].rpartition(".")
        assert getattr(importlib.import_module(module), name).conn_type == conn_type["connection-type"]


def test_airflow_sees_the_connection_type_and_its_form():
    manager = ProvidersManager()
    assert "airflow-provider-criteo" in manager.providers
    hook_info = ProvidersManagerTaskRuntime().hooks["criteo"]
    assert hook_info is not None
    assert hook_info.hook_class_name == "airflow_provider_criteo.hooks.criteo.CriteoHook"
    widgets = manager.connection_form_widgets
    assert {
        "extra__criteo__advertiser_id",
        "extra__criteo__api_version",
        "extra__criteo__data_transfer_consent",
    } <= set(widgets)
    behaviour = manager.field_behaviours["criteo"]
    assert set(behaviour["hidden_fields"]) == {"schema", "port"}
    assert behaviour["relabeling"] == {"login": "Client ID", "password": "Client Secret", "host": "API URL"}
