"""The Criteo view's web app, mounted by Airflow's API server under ``/criteo``.

Every page needs a signed-in user (Airflow's own token, as the UI holds it in its cookie) and shows
only the exports of the DAGs whose task instances and XComs that user's auth manager lets them read;
an anonymous request is refused before anything is read.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Annotated

from airflow.api_fastapi.app import get_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity, DagDetails

# FastAPI reads the annotation of readable_dags at run time: GetUserDep is Airflow's user dependency.
from airflow.api_fastapi.core_api.security import GetUserDep  # noqa: TC002
from airflow.utils.session import create_session
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse

from airflow_provider_criteo.ui import pages
from airflow_provider_criteo.ui.exports import Audience, audiences_of, exported_dags, read_exports
from airflow_provider_criteo.ui.history import HistoryTable
from airflow_provider_criteo.ui.links import URL_PREFIX

if TYPE_CHECKING:
    from airflow.api_fastapi.auth.managers.models.base_user import BaseUser

    from airflow_provider_criteo.ui.exports import Export

log = logging.getLogger(__name__)

#: What the view shows of a DAG: its task instances (states, times) and their XComs (the summaries).
SHOWN = (DagAccessEntity.TASK_INSTANCE, DagAccessEntity.XCOM)


def readable_dags(user: GetUserDep) -> set[str]:
    """The DAGs with exports whose task instances and XComs the signed-in user may read.

    Airflow's ``get_user`` answers 401 to an anonymous request and 403 to a forged token, before
    anything is read.
    """
    manager = get_auth_manager()
    with create_session() as session:
        candidates = exported_dags(session) & manager.get_authorized_dag_ids(user=user, method="GET")
    return {dag_id for dag_id in candidates if _may_read(user, dag_id)}


def _may_read(user: BaseUser, dag_id: str) -> bool:
    """Whether ``user`` may read the task instances and XComs of ``dag_id``."""
    return get_auth_manager().batch_is_authorized_dag(
        [{"method": "GET", "access_entity": entity, "details": DagDetails(id=dag_id)} for entity in SHOWN],
        user=user,
    )


ReadableDags = Annotated[set[str], Depends(readable_dags)]


def _airflow_root(request: Request) -> str:
    """The path under which Airflow's UI is served (empty at the root), for links back into it."""
    return str(request.scope.get("root_path", "")).removesuffix(URL_PREFIX)


def _exports(dags: set[str], task: tuple[str, str, str, int] | None = None) -> list[Export]:
    """The exports of ``dags`` (or the one task instance ``task``), newest first."""
    with create_session() as session:
        return read_exports(session, dags, task=task)


def _history(dags: set[str]) -> pages.History:
    """The audiences' charts from the configured history table, or a note saying why there are none.

    The view still shows what the metadata database holds when the table cannot be read.
    """
    try:
        table = HistoryTable.configured()
        return pages.History(table.series(dags) if table else {})
    except Exception as error:
        log.warning("The Criteo view could not read the export history table: %s", error)
        return pages.History(
            {},
            f"The history table could not be read ({type(error).__name__}); see the API server's log. "
            "The charts show the runs Airflow still holds.",
        )


def create_app() -> FastAPI:
    """The view's app: the audiences, one audience, one export."""
    app = FastAPI(title="Criteo audiences", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request, dags: ReadableDags) -> str:
        """Every audience the exports manage, per advertiser, with its last export and its chart."""
        return pages.overview(audiences_of(_exports(dags)), _history(dags), root=_airflow_root(request))

    @app.get("/audiences/{advertiser_id}/{audience_name:path}", response_class=HTMLResponse)
    def audience(request: Request, dags: ReadableDags, advertiser_id: str, audience_name: str) -> str:
        """One audience: its chart and its exports."""
        found = [
            a
            for a in audiences_of(_exports(dags))
            if (a.advertiser_id, a.name) == (advertiser_id, audience_name)
        ]
        if not found:
            raise HTTPException(404, "No export you may read wrote this audience.")
        return pages.audience(found[0], _history(dags), root=_airflow_root(request))

    @app.get("/exports/{dag_id}/{run_id}/{task_id}/{map_index}", response_class=HTMLResponse)
    def export(
        request: Request, dags: ReadableDags, dag_id: str, run_id: str, task_id: str, map_index: int
    ) -> str:
        """One export task instance: its summary as a table, and its audience."""
        found = _exports({dag_id} & dags, task=(dag_id, run_id, task_id, map_index))
        if not found:
            raise HTTPException(404, "No export you may read ran as this task instance.")
        (export,) = found
        audience = Audience(export.advertiser_id, export.audience_name, [export])
        return pages.export(export, audience, root=_airflow_root(request))

    return app
