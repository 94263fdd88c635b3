"""Who is running: the DAG, run and task of an export, from the task context."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from airflow.sdk import Context


def run_identity(context: Context, task_id: str) -> dict[str, str]:
    """The DAG, run and task of this task (for the ownership tag, history and audit records)."""
    ti = context.get("ti")
    return {
        "dag_id": getattr(ti, "dag_id", None) or "no_dag",
        "run_id": getattr(ti, "run_id", None) or "no_run",
        "task_id": getattr(ti, "task_id", None) or task_id,
    }


def lease_owner(context: Context) -> str:
    """The task instance as lease owner: its own retry takes an audience's leases back at once."""
    ti = context.get("ti")
    if ti is None:
        return f"process-{uuid.uuid4().hex}"
    return f"{ti.dag_id}/{ti.run_id}/{ti.task_id}/{getattr(ti, 'map_index', -1)}"
