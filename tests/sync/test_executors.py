from __future__ import annotations

import pytest

from airflow_provider_criteo.sync.executors import executor_names, remote_executors


@pytest.mark.parametrize(
    ("setting", "names"),
    [
        ("LocalExecutor", ["LocalExecutor"]),
        ("CeleryExecutor, KubernetesExecutor", ["CeleryExecutor", "KubernetesExecutor"]),
        ("my_alias:my.company.CeleryExecutor", ["CeleryExecutor"]),
        ("airflow.providers.edge3.executors.EdgeExecutor", ["EdgeExecutor"]),
        ("LocalExecutor;team1=CeleryExecutor", ["LocalExecutor"]),
        ("=LocalExecutor", ["LocalExecutor"]),
        ("", []),
    ],
)
def test_executor_names_are_read_as_airflow_reads_them(setting, names):
    assert executor_names(setting) == names


def test_team_executors_count_when_multi_team_is_on():
    setting = "LocalExecutor;team1=CeleryExecutor;team2=LocalExecutor,my:x.KubernetesExecutor"
    assert executor_names(setting, teams=True) == [
        "LocalExecutor",
        "CeleryExecutor",
        "LocalExecutor",
        "KubernetesExecutor",
    ]


@pytest.mark.parametrize(
    ("executor", "env", "remote"),
    [
        ("LocalExecutor", {}, False),
        ("LocalExecutor,CeleryExecutor", {}, True),
        ("CeleryKubernetesExecutor", {}, True),
        ("LocalKubernetesExecutor", {}, True),
        # The official Helm chart's task pods say LocalExecutor; Airflow marks them as executor pods.
        ("LocalExecutor", {"AIRFLOW_IS_K8S_EXECUTOR_POD": "True"}, True),
        ("LocalExecutor", {"AIRFLOW_IS_EXECUTOR_CONTAINER": "True"}, True),
    ],
)
def test_remote_executors_include_containers_an_executor_started(monkeypatch, executor, env, remote):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executor)
    for name in ("AIRFLOW_IS_K8S_EXECUTOR_POD", "AIRFLOW_IS_EXECUTOR_CONTAINER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert bool(remote_executors()) is remote


def test_team_executors_count_only_with_multi_team(monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor;team1=CeleryExecutor")
    monkeypatch.setenv("AIRFLOW__CORE__MULTI_TEAM", "False")
    assert remote_executors() == []
    monkeypatch.setenv("AIRFLOW__CORE__MULTI_TEAM", "True")
    assert remote_executors() == ["CeleryExecutor"]
