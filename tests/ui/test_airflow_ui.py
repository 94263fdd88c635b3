"""The Airflow UI in a real browser: the Criteo connection form, the trigger form, a run and its logs.

The tests follow one user journey and run in file order: create the connection, let a profile refresh
trigger an export, trigger an export from the form, read its task logs, check who may do what, then
look at the audiences in the Criteo view.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import TYPE_CHECKING

import requests
from playwright.sync_api import expect

from airflow_provider_criteo.sandbox import DEFAULT_ADVERTISER_ID, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.helpers import demo_audiences, held_audiences
from tests.ui.careless_criteo import TokenRecordingState
from tests.ui.screenshots import screenshot

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

    from airflow_provider_criteo.sandbox import CriteoSandbox
    from demo.airflow_server import AirflowServer

EXPORT = "criteo_segment_export"
CHOSEN = ["vip_buyers", "churn_risk"]
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def expected_audiences(server: AirflowServer) -> dict[str, set[str]]:
    """Per segment of the server's warehouse, what its audience must hold."""
    return demo_audiences(server.warehouse)


def test_example_dags_have_no_import_errors(airflow_server: AirflowServer):
    listed = subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "list-import-errors", "--output", "json"],
        env=airflow_server.env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(listed.stdout.splitlines()[-1]) == []  # the lines before are warnings
    assert airflow_server.api("GET", "/importErrors").json()["total_entries"] == 0


def send_port_as_unset(route: Route) -> None:
    """Airflow 3.3.2's Test button sends ``port: 0`` for a connection without port, which its API then
    refuses as another destination (apache/airflow#73298, fixed upstream): send it as unset."""
    body = route.request.post_data_json or {}
    route.continue_(post_data={**body, "port": body.get("port") or None})


def test_criteo_connection_form_and_test_button(page: Page, ui_sandbox: CriteoSandbox):
    page.goto("/connections")
    page.get_by_role("button", name="Add Connection").click()
    form = page.get_by_role("dialog")
    form.get_by_label("Connection ID").fill("criteo_default")
    form.get_by_label("Connection Type").fill("Criteo")
    page.keyboard.press("Enter")
    form.get_by_label("API URL").fill(ui_sandbox.url)
    form.get_by_label("Client ID").fill(DEFAULT_CLIENT_ID)
    secret = form.get_by_label("Client Secret")
    secret.fill(DEFAULT_CLIENT_SECRET)
    expect(secret).to_have_attribute("type", "password")
    expect(form.get_by_text("Port", exact=True)).to_have_count(0)
    screenshot(page, "criteo-connection-form")
    form.get_by_role("button", name="Extra Fields", exact=True).click()
    expect(form.get_by_text("Advertiser ID", exact=True)).to_be_visible()
    expect(form.get_by_text("API version", exact=True)).to_be_visible()
    form.locator("input[name=element_advertiser_id]").fill(DEFAULT_ADVERTISER_ID)
    form.locator("input[name=element_api_version]").fill("2026-07")
    consent = form.get_by_label("I agree to send customer data to Criteo")
    expect(consent).not_to_be_checked()
    form.get_by_text("I agree to send customer data to Criteo").click()
    expect(consent).to_be_checked()
    screenshot(page, "criteo-connection-extras")
    form.get_by_role("button", name="Save").click()
    expect(form).to_be_hidden()

    row = page.get_by_role("row").filter(has_text="criteo_default")
    expect(row).to_contain_text(ui_sandbox.url)
    page.route("**/api/v2/connections/test", send_port_as_unset)
    row.get_by_role("button", name="Test Connection").click()
    expect(page.get_by_text("Test Connection Successful")).to_be_visible()
    expect(page.get_by_text(f"advertisers available: {DEFAULT_ADVERTISER_ID}")).to_be_visible()
    screenshot(page, "criteo-connection-test")


def test_every_profile_refresh_is_followed_by_an_export(
    airflow_server: AirflowServer, ui_sandbox: CriteoSandbox
):
    for dag_id in ("customer_profile_refresh", EXPORT):
        airflow_server.api("PATCH", f"/dags/{dag_id}", json={"is_paused": False})

    refresh = airflow_server.wait_for_run("customer_profile_refresh")
    export = airflow_server.wait_for_run(EXPORT, run_type="asset_triggered")

    assert (refresh["state"], export["state"]) == ("success", "success")
    assert held_audiences(ui_sandbox) == expected_audiences(airflow_server)


def test_trigger_form_exports_the_chosen_segments(
    page: Page, airflow_server: AirflowServer, ui_sandbox: CriteoSandbox
):
    page.goto(f"/dags/{EXPORT}")
    page.get_by_role("button", name="Trigger Dag").click()
    form = page.get_by_role("dialog")
    segments = form.locator("#element_segments")  # the multi-select the "segments" param renders
    segments.get_by_label("Clear selected options").click()
    for segment in CHOSEN:
        segments.get_by_role("combobox").click()
        page.get_by_role("option", name=re.compile(f"^{segment}:")).click()
    chosen = form.locator("input[name=element_segments]")
    expect(chosen).to_have_count(len(CHOSEN))
    assert [element.input_value() for element in chosen.all()] == CHOSEN
    expect(form.get_by_label("Dry run")).not_to_be_checked()
    screenshot(page, "trigger-form")
    form.get_by_role("button", name="Trigger").last.click()
    expect(form).to_be_hidden()

    run = airflow_server.wait_for_run(EXPORT, run_type="manual")
    assert run["state"] == "success"
    assert run["conf"]["segments"] == CHOSEN
    assert run["conf"]["dry_run"] is False
    expected = expected_audiences(airflow_server)
    held = held_audiences(ui_sandbox)
    assert {name: held[name] for name in CHOSEN} == {name: expected[name] for name in CHOSEN}

    page.goto(f"/dags/{EXPORT}/runs/{run['dag_run_id']}")
    expect(page.get_by_text("Success").first).to_be_visible()
    screenshot(page, "finished-run")
    page.goto(f"/dags/{EXPORT}/runs/{run['dag_run_id']}/tasks/log_run_summary")
    expect(page.get_by_text("Criteo export of 2 segment(s)")).to_be_visible()
    screenshot(page, "run-summary-log")


def test_task_logs_mask_secrets_and_hold_no_email(airflow_server: AirflowServer, ui_sandbox: CriteoSandbox):
    (run,) = airflow_server.dag_runs(EXPORT, run_type="manual")
    logs = [
        airflow_server.task_log(EXPORT, run["dag_run_id"], "export_segment", map_index)
        for map_index in range(len(CHOSEN))
    ]
    logs.append(airflow_server.task_log(EXPORT, run["dag_run_id"], "log_run_summary"))
    text = "\n".join(logs)

    for segment in CHOSEN:
        assert f"Criteo export of segment '{segment}'" in text
    assert "Criteo export of 2 segment(s)" in text
    assert "credentials-echo (client_secret=*** access_token=***)" in text  # where they would leak
    assert isinstance(ui_sandbox.state, TokenRecordingState)
    tokens = ui_sandbox.state.issued_tokens
    assert tokens
    for secret in (DEFAULT_CLIENT_SECRET, *tokens):
        assert secret not in text
    assert EMAIL.search(text) is None


def test_xcoms_and_rendered_templates_hold_no_secret_and_no_email(
    airflow_server: AirflowServer, ui_sandbox: CriteoSandbox
):
    (run,) = airflow_server.dag_runs(EXPORT, run_type="manual")
    base = f"/dags/{EXPORT}/dagRuns/{run['dag_run_id']}/taskInstances/export_segment"
    seen = []
    for map_index in range(len(CHOSEN)):
        instance = airflow_server.api("GET", f"{base}/{map_index}").json()
        xcom = airflow_server.api(
            "GET", f"{base}/xcomEntries/return_value", params={"map_index": map_index}
        ).json()
        seen.append(json.dumps({"rendered": instance["rendered_fields"], "xcom": xcom}, ensure_ascii=False))
    text = "\n".join(seen)
    assert '"rows_read"' in text  # the summaries were read
    assert '"sql"' in text  # and the rendered templates
    assert isinstance(ui_sandbox.state, TokenRecordingState)
    for secret in (DEFAULT_CLIENT_SECRET, *ui_sandbox.state.issued_tokens):
        assert secret not in text
    assert EMAIL.search(text) is None


def test_who_may_trigger_the_export_and_who_may_see_the_connections(airflow_server: AirflowServer):
    # Each role's answer to: read the export DAG, trigger it (a dry run of one segment), list connections.
    trigger = {"logical_date": None, "conf": {"segments": [CHOSEN[0]], "dry_run": True}}
    answers = {
        user: (
            airflow_server.request_as(user, "GET", f"/dags/{EXPORT}").status_code,
            airflow_server.request_as(user, "POST", f"/dags/{EXPORT}/dagRuns", json=trigger).status_code,
            airflow_server.request_as(user, "GET", "/connections").status_code,
        )
        for user in ("analyst", "marketer", "data_engineer")
    }
    assert answers == {
        "analyst": (200, 403, 403),  # reads the exports' runs and results, triggers nothing
        "marketer": (200, 200, 403),  # triggers exports with the connection, never sees it
        "data_engineer": (200, 200, 200),  # manages the connection too
    }


def test_the_criteo_view_shows_each_audience_with_its_last_export(
    page: Page, airflow_server: AirflowServer, ui_sandbox: CriteoSandbox
):
    airflow_server.wait_for_run(EXPORT, run_type="manual", after=2)  # the last dry run above
    asked = []
    page.on("request", lambda request: asked.append(request.url))
    page.goto("/plugin/criteo")  # Browse > Criteo audiences
    view = page.frame_locator("iframe[title='Criteo audiences']")
    expect(view.get_by_role("heading", name=f"Advertiser {DEFAULT_ADVERTISER_ID}")).to_be_visible()
    held = held_audiences(ui_sandbox)
    ids = {segment["attributes"]["name"]: segment["id"] for segment in ui_sandbox.segments()}
    for name, members in held.items():
        row = view.get_by_role("row").filter(has=view.get_by_role("link", name=name, exact=True))
        expect(row).to_contain_text(f"id {ids[name]}")
        expect(row).to_contain_text("success")
        expect(row.locator("td[data-label=Members]")).to_have_text(f"{len(members):,}")
    vip = view.get_by_role("row").filter(has=view.get_by_role("link", name=CHOSEN[0], exact=True))
    expect(vip).to_contain_text("dry run")  # its last run was the dry run a marketer triggered
    expect(view.locator("figure.chart svg polyline").first).to_be_attached()
    screenshot(page, "criteo-view")
    # Nothing from afar: every request (the UI's own blob: workers included) went to Airflow.
    assert [url for url in asked if not url.removeprefix("blob:").startswith(airflow_server.url)] == []

    (manual, *_) = airflow_server.dag_runs(EXPORT, run_type="manual")
    churn = view.get_by_role("row").filter(has=view.get_by_role("link", name=CHOSEN[1], exact=True))
    churn.get_by_role("link", name=manual["dag_run_id"]).click()
    page.wait_for_url(re.compile(rf"/dags/{EXPORT}/runs/"))  # the run, in Airflow's own page
    expect(page.get_by_text("Task Instances").first).to_be_visible()


def test_the_export_task_links_to_its_summary_and_audience(page: Page, airflow_server: AirflowServer):
    (manual, *_) = airflow_server.dag_runs(EXPORT, run_type="manual")
    page.goto(f"/dags/{EXPORT}/runs/{manual['dag_run_id']}/tasks/export_segment/mapped/0")
    page.get_by_text("Details", exact=True).click()  # the task instance's tab
    page.get_by_role("link", name="Criteo audience").click()
    page.wait_for_url(re.compile(r"/criteo/exports/"))
    summary = airflow_server.api(
        "GET",
        f"/dags/{EXPORT}/dagRuns/{manual['dag_run_id']}/taskInstances/export_segment/xcomEntries/return_value",
        params={"map_index": 0},
    ).json()["value"]
    expect(page.get_by_role("heading", name=f"Export of {CHOSEN[0]} to {CHOSEN[0]}")).to_be_visible()
    for label, key in (("Rows read", "rows_read"), ("Added", "added"), ("Valid identifiers", "valid")):
        heading = page.locator("th", has_text=re.compile(f"^{label}$"))
        expect(page.locator("table.summary tr", has=heading).locator("td")).to_have_text(f"{summary[key]:,}")
    expect(page.locator("table.cards").get_by_text("phoneNumber")).to_be_visible()
    screenshot(page, "criteo-export-summary")
    page.get_by_role("link", name=CHOSEN[0], exact=True).click()  # its audience, run after run
    expect(page.locator("figure.chart svg")).to_be_visible()


def test_the_criteo_view_reads_well_at_a_phones_width(page: Page):
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/criteo/")
    expect(page.get_by_role("heading", name="Criteo audiences")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # no sideways scroll
    first = page.locator("table.cards tbody tr").first
    expect(first.locator("td[data-label=Members]")).to_be_visible()  # a card, its fields labelled
    screenshot(page, "criteo-view-phone")


def test_the_criteo_view_is_only_for_signed_in_users(airflow_server: AirflowServer):
    anonymous = requests.get(f"{airflow_server.url}/criteo/", timeout=30)
    assert anonymous.status_code == 401
    assert CHOSEN[0] not in anonymous.text
    forged = requests.get(f"{airflow_server.url}/criteo/", cookies={"_token": "forged"}, timeout=30)
    assert forged.status_code == 403
    analyst = airflow_server.sessions["analyst"]  # signed in by the roles test above
    assert CHOSEN[0] in analyst.get(f"{airflow_server.url}/criteo/", timeout=30).text
