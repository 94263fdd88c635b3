"""What every workflow is given: the Criteo hook, the rows to read, its options, the state store, its run."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from airflow_provider_criteo.segments import spill

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_criteo.hooks.criteo import CriteoHook
    from airflow_provider_criteo.segments.key_files import Spilling
    from airflow_provider_criteo.segments.query import SegmentQuery
    from airflow_provider_criteo.sync.snapshots import SnapshotStore

OptionsT = TypeVar("OptionsT")


class Workflow(abc.ABC, Generic[OptionsT]):
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
        #: While it runs: its spill folder and memory budget (``[criteo] spill_location``,
        #: ``memory_budget_mb``), where key sets past the budget live.
        self.spilling: Spilling | None = None

    def run(self) -> dict[str, Any]:
        """Run the workflow; return its summary (the task's XCom value).

        Key sets past the memory budget, and state files read while it runs, live in its spill folder,
        removed when it ends, however it ends.
        """
        with spill.spilling() as self.spilling:
            derived = self.spilling.share(spill.DERIVED_SHARE)
            store, self.store = self.store, self.store.with_spilling(derived)
            try:
                return self._run()
            finally:
                self.store, self.spilling = store, None

    @abc.abstractmethod
    def _run(self) -> dict[str, Any]:
        """The workflow's work, with :attr:`spilling` set."""
