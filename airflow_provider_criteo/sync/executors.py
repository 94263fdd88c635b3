"""Whether this Airflow runs tasks on machines other than this one, as its executors say."""

from __future__ import annotations

import os

#: Executors that run every task on the scheduler's machine.
LOCAL_EXECUTORS = frozenset({"LocalExecutor", "SequentialExecutor", "DebugExecutor"})
#: What Airflow sets in a task's container when an executor started it there (Kubernetes pods, ECS,
#: Batch...), whatever the container's own ``[core] executor`` says (the Helm chart sets LocalExecutor).
CONTAINER_MARKERS = ("AIRFLOW_IS_K8S_EXECUTOR_POD", "AIRFLOW_IS_EXECUTOR_CONTAINER")


def remote_executors() -> list[str]:
    """The executors that may run this Airflow's tasks on other machines; empty when all run here."""
    from airflow.configuration import conf

    setting = conf.get("core", "executor", fallback="")
    teams = conf.getboolean("core", "multi_team", fallback=False)
    remote = [name for name in executor_names(setting, teams=teams) if name not in LOCAL_EXECUTORS]
    markers = [marker for marker in CONTAINER_MARKERS if os.environ.get(marker)]
    if markers and not remote:
        remote.append(f"executor that started this task in a container ({markers[0]} is set)")
    return remote


def executor_names(setting: str, *, teams: bool = False) -> list[str]:
    """The executors' class names in a ``[core] executor`` setting, as Airflow reads it.

    ``LocalExecutor,my_alias:path.to.CeleryExecutor``; with ``teams`` (``[core] multi_team``), team
    lists too: ``LocalExecutor;team1=CeleryExecutor``.
    """
    names = []
    for group in setting.split(";"):
        team, _, executors = group.strip().rpartition("=")
        if team and not teams:
            continue  # Airflow ignores team executors unless multi_team is on
        for entry in executors.split(","):
            path = entry.strip().rpartition(":")[2]
            if path:
                names.append(path.rpartition(".")[2])
    return names
