"""What every workflow is given: the Criteo hook, the rows to read, its options, the state store, its run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_criteo.hooks.criteo import CriteoHook
    from airflow_provider_criteo.segments.query import SegmentQuery
    from airflow_provider_criteo.sync.snapshots import SnapshotStore

OptionsT = TypeVar("OptionsT")


class Workflow(Generic[OptionsT]):
    """One run of a workflow, usable without an operator (a ``@task`` may run it).

    :param options: what the workflow does, and how (each workflow has its own options).
    :param run: the Airflow run it belongs to (``dag_id``, ``run_id``, ``task_id``, ...), which the
        audience's ownership tag and the history and audit rows name.
    :param owner: the lease owner (the task instance, so that its retry takes the audiences back).
    :param log: where it logs (the task's logger).
    """

    def __init__(
        self,
        hook: CriteoHook,
        query: SegmentQuery,
        options: OptionsT,
        store: SnapshotStore,
        *,
        run: Mapping[str, str],
        owner: str,
        log: Any,
    ) -> None:
        self.hook = hook
        self.query = query
        self.options = options
        self.store = store
        self.run_identity = dict(run)
        self.owner = owner
        self.log = log
