"""The Criteo view's app behind Airflow's own authentication: who gets which page, in process.

The app is served as Airflow's API server mounts it, with Airflow's auth manager (SimpleAuthManager,
the default) and tokens it signs; the exports are real runs of ``criteo_export_e2e``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from airflow.api_fastapi.app import create_auth_manager
from airflow.api_fastapi.auth.managers.models.resource_details import DagAccessEntity
from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
from fastapi import FastAPI
from fastapi.testclient import TestClient

from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID
from airflow_provider_criteo.ui.app import create_app
from airflow_provider_criteo.ui.links import URL_PREFIX, export_path
from airflow_provider_criteo.workflows.history import append_history

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.ui.conftest import ExportRuns


@pytest.fixture
def client(export_runs: ExportRuns, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The view's app mounted under ``/criteo`` of an app, as Airflow's API server mounts it."""
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "a-test-secret-" * 6)
    create_auth_manager().init()
    airflow = FastAPI()
    airflow.mount(URL_PREFIX, create_app())
    with TestClient(airflow) as client:
        yield client


def token(role: str | None, name: str = "someone") -> str:
    return create_auth_manager().generate_jwt(SimpleAuthManagerUser(username=name, role=role))


def get_as(client: TestClient, path: str, role: str | None) -> Any:
    return client.get(path, headers={"Authorization": f"Bearer {token(role)}"})


def test_an_anonymous_request_gets_nothing(client: TestClient, export_runs: ExportRuns):
    exported = export_path(export_runs.dag_id, export_runs.exported, "export", 0)
    for path in (f"{URL_PREFIX}/", f"{URL_PREFIX}/audiences/{DEFAULT_ADVERTISER_ID}/vip", exported):
        answer = client.get(path)
        assert answer.status_code == 401
        assert "vip" not in answer.text


def test_a_forged_token_gets_nothing(client: TestClient):
    client.cookies.set("_token", "forged.jwt.value")
    forged = client.get(f"{URL_PREFIX}/")
    assert forged.status_code == 403
    assert "vip" not in forged.text


def test_a_user_who_may_read_the_dags_sees_their_audiences(client: TestClient, export_runs: ExportRuns):
    # The cookie the Airflow UI holds after sign-in, as the UI's frame sends it.
    client.cookies.set("_token", token("viewer"))
    page = client.get(f"{URL_PREFIX}/")
    assert page.status_code == 200
    assert f"Advertiser {DEFAULT_ADVERTISER_ID}" in page.text
    assert f'href="{URL_PREFIX}/audiences/{DEFAULT_ADVERTISER_ID}/vip"' in page.text
    assert f'href="/dags/{export_runs.dag_id}/runs/{quote(export_runs.failed, safe="")}"' in page.text


def test_a_user_without_a_role_sees_no_audience(client: TestClient, export_runs: ExportRuns):
    page = get_as(client, f"{URL_PREFIX}/", None)
    assert page.status_code == 200
    assert "No Criteo export has run yet in the DAGs you may read." in page.text
    exported = export_path(export_runs.dag_id, export_runs.exported, "export", 0)
    assert get_as(client, exported, None).status_code == 404
    assert get_as(client, f"{URL_PREFIX}/audiences/{DEFAULT_ADVERTISER_ID}/vip", None).status_code == 404


@pytest.mark.parametrize(
    "denied",
    [None, DagAccessEntity.XCOM, DagAccessEntity.TASK_INSTANCE],
    ids=["the DAG", "its XComs", "its task instances"],
)
def test_exports_of_dags_the_user_may_not_read_are_left_out(
    client: TestClient, export_runs: ExportRuns, monkeypatch: pytest.MonkeyPatch, denied
):
    manager = create_auth_manager()
    allowed = manager.is_authorized_dag

    def is_authorized_dag(**asked):
        if asked["details"].id == export_runs.dag_id and asked.get("access_entity") == denied:
            return False
        return allowed(**asked)

    monkeypatch.setattr(manager, "is_authorized_dag", is_authorized_dag)
    page = get_as(client, f"{URL_PREFIX}/", "viewer")
    assert page.status_code == 200
    for hidden in (quote(export_runs.exported, safe=""), quote(export_runs.failed, safe=""), "eu/vip"):
        assert hidden not in page.text  # other DAGs' exports (other tests') may be listed, not these
    vip = export_path(export_runs.dag_id, export_runs.exported, "export", 0)
    assert get_as(client, vip, "viewer").status_code == 404
    assert (
        get_as(client, f"{URL_PREFIX}/audiences/{DEFAULT_ADVERTISER_ID}/eu%2Fvip", "viewer").status_code
        == 404
    )


def test_the_export_page_shows_the_summary_as_a_table(client: TestClient, export_runs: ExportRuns):
    vip = export_path(export_runs.dag_id, export_runs.exported, "export", 0)  # segments map in order
    page = get_as(client, vip, "viewer").text
    assert "Export of vip to vip" in page
    assert '<tr><th scope="row">Added</th><td class="num">2</td></tr>' in page
    assert '<tr><th scope="row">Rows read</th><td class="num">2</td></tr>' in page
    failed = get_as(client, export_path(export_runs.dag_id, export_runs.failed, "export", 0), "viewer").text
    assert "This try failed before returning its summary" in failed


def test_the_audience_page_lists_its_exports_and_draws_its_chart(client: TestClient, export_runs: ExportRuns):
    page = get_as(client, f"{URL_PREFIX}/audiences/{DEFAULT_ADVERTISER_ID}/vip", "viewer").text
    assert page.index(export_runs.failed) < page.index(export_runs.exported)  # newest first
    once = get_as(client, f"{URL_PREFIX}/audiences/{DEFAULT_ADVERTISER_ID}/eu%2Fvip", "viewer").text
    assert once.count("<circle") == 2  # its one export: a dot of size, one of match rate
    assert once.count("<polyline") == 2
    assert "<script src" not in page
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # nothing from afar


def test_charts_come_from_the_history_table_where_it_is_configured(
    client: TestClient, export_runs: ExportRuns, monkeypatch: pytest.MonkeyPatch
):
    run = {"dag_id": export_runs.dag_id, "run_id": "long-gone", "task_id": "export"}
    for size in (1_111, 2_222, 3_333):  # runs whose summaries Airflow no longer holds
        summary = {"advertiser_id": DEFAULT_ADVERTISER_ID, "audience_name": "vip", "audience_size": size}
        append_history("warehouse", "criteo_export_history", {**summary, "match_rate": 0.5}, run)
    monkeypatch.setenv("AIRFLOW__CRITEO__HISTORY_TABLE", "criteo_export_history")
    monkeypatch.setenv("AIRFLOW__CRITEO__HISTORY_CONN_ID", "warehouse")
    page = get_as(client, f"{URL_PREFIX}/audiences/{DEFAULT_ADVERTISER_ID}/vip", "viewer").text
    assert ">3,333</text>" in page  # the size scale is the history's
    assert page.count("<polyline") == 2  # three points each: size and match rate
    assert "<circle" not in page


def test_an_audience_with_a_slash_in_its_name_has_its_page(client: TestClient, export_runs: ExportRuns):
    overview = get_as(client, f"{URL_PREFIX}/", "viewer").text
    link = f"{URL_PREFIX}/audiences/{DEFAULT_ADVERTISER_ID}/eu%2Fvip"
    assert f'href="{link}"' in overview
    page = get_as(client, link, "viewer")
    assert page.status_code == 200
    assert f"Audience {export_runs.audience_ids['eu/vip']} of advertiser" in page.text


def test_an_unreadable_history_table_leaves_the_page_and_says_so(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("AIRFLOW__CRITEO__HISTORY_TABLE", "no_such_table")
    monkeypatch.setenv("AIRFLOW__CRITEO__HISTORY_CONN_ID", "warehouse")
    page = get_as(client, f"{URL_PREFIX}/", "viewer")
    assert page.status_code == 200
    assert "The history table could not be read (OperationalError)" in page.text
    assert "Advertiser" in page.text


def test_links_into_airflow_keep_its_base_path(export_runs: ExportRuns, monkeypatch: pytest.MonkeyPatch):
    # Airflow served under https://host/airflow/ ([api] base_url): the API server's root path.
    monkeypatch.setenv("AIRFLOW__API_AUTH__JWT_SECRET", "a-test-secret-" * 6)
    create_auth_manager().init()
    airflow = FastAPI()
    airflow.mount(URL_PREFIX, create_app())
    with TestClient(airflow, root_path="/airflow") as client:
        page = get_as(client, f"/airflow{URL_PREFIX}/", "viewer").text
    assert f'href="/airflow/dags/{export_runs.dag_id}/runs/{quote(export_runs.failed, safe="")}"' in page
    assert f'href="/airflow{URL_PREFIX}/audiences/{DEFAULT_ADVERTISER_ID}/eu%2Fvip"' in page
