"""Run the example DAGs in this process with ``dag.test()`` and read what their tasks returned.

Import it only once ``AIRFLOW_HOME`` is set (see :mod:`demo.environment`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.dag_processing.dagbag import BundleDagBag
from airflow.models.xcom import XCOM_RETURN_KEY, XComModel
from airflow.utils.session import create_session
from airflow.utils.state import DagRunState

from demo.environment import EXAMPLE_DAGS

if TYPE_CHECKING:
    from pathlib import Path

    from airflow.models.dagrun import DagRun
    from airflow.sdk import DAG


class DagRunFailed(RuntimeError):
    """A DAG run that did not succeed."""


def example_dag_bag(path: Path = EXAMPLE_DAGS) -> BundleDagBag:
    """The example DAGs of ``path`` (the folder, or one file), parsed as Airflow parses its bundles."""
    return BundleDagBag(dag_folder=path, bundle_path=EXAMPLE_DAGS)


def example_dag(dag_id: str) -> DAG:
    """A freshly parsed example DAG (each lives in ``example_dags/<dag_id>.py``).

    Fresh, because ``dag.test()`` runs tasks in this process and a run leaves its trigger
    parameters in the task objects it ran.
    """
    bag = example_dag_bag(EXAMPLE_DAGS / f"{dag_id}.py")
    if dag_id not in bag.dags:
        raise KeyError(f"no example DAG {dag_id!r}; import errors: {bag.import_errors}")
    return bag.dags[dag_id]


def run_dag(dag_id: str, conf: dict[str, Any] | None = None) -> DagRun:
    """Run an example DAG to its end, without a logical date (as a manual or asset-triggered run)."""
    run = example_dag(dag_id).test(run_conf=conf, logical_date=None)
    if run.state != DagRunState.SUCCESS:
        failed = sorted(ti.task_id for ti in run.get_task_instances() if ti.state != "success")
        raise DagRunFailed(
            f"{dag_id} run {run.run_id} ended {run.state}; not successful: {', '.join(failed)}"
        )
    return run


def task_results(run: DagRun, task_id: str) -> list[Any]:
    """What a task of the run returned (one value per mapped task instance, by map index)."""
    with create_session() as session:
        rows = session.scalars(
            XComModel.get_many(
                run_id=run.run_id, key=XCOM_RETURN_KEY, dag_ids=run.dag_id, task_ids=task_id
            ).order_by(XComModel.map_index)
        )
        return [XComModel.deserialize_value(row) for row in rows]
