"""What an export task leaves for the Criteo view: a record of the audience it works on, and its link.

Imports no web framework: the operator uses it on the worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator, Context
    from airflow.sdk.types import TaskInstanceKey

#: The XCom an export pushes as it starts: which audience of which advertiser it works on, so that
#: the view lists the export even when it fails before returning its summary.
EXPORT_XCOM_KEY = "criteo_export"
#: Where Airflow's API server mounts the view's app.
URL_PREFIX = "/criteo"


def record_export(context: Context, **export: Any) -> None:
    """Push the export's record (advertiser, audience name, segment, mode; no personal data).

    Outside a task instance (an ``execute`` called directly) there is no view to record it for.
    """
    ti = context.get("ti")
    if ti is not None:
        ti.xcom_push(key=EXPORT_XCOM_KEY, value=export)


def url_path(*parts: object) -> str:
    """Path segments joined by ``/``, each percent-encoded (a ``/`` in a name included)."""
    return "/".join(quote(str(part), safe="") for part in parts)


def export_path(dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    """The path of one export task's page in the view."""
    return f"{URL_PREFIX}/exports/{url_path(dag_id, run_id, task_id, map_index)}"


class CriteoExportLink(BaseOperatorLink):
    """The export task's extra link: its page in the Criteo view (summary, audience and its history)."""

    name = "Criteo audience"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        """The page of this task instance, under the API server's ``[api] base_url`` when it is set."""
        from airflow.sdk.configuration import conf

        base = (conf.get("api", "base_url", fallback="") or "").rstrip("/")
        return base + export_path(ti_key.dag_id, ti_key.run_id, ti_key.task_id, ti_key.map_index)
