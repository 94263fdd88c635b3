"""Running the emulator: the ``CriteoSandbox`` runner, state files and the ``criteo-sandbox`` command."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from airflow_provider_criteo.sandbox import CriteoSandbox, SandboxState

ME = "/2026-07/marketing-solutions/me"


def token(
    url: str, client_id: str = "sandbox-client-id", client_secret: str = "sandbox-client-secret"
) -> str:
    """An access token from the sandbox at ``url``."""
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
    response = requests.post(f"{url}/oauth2/token", data=form, timeout=5)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def create_and_fill(url: str, name: str, identifiers: list[str]) -> str:
    """Create a segment holding ``identifiers``; return its id."""
    headers = {"Authorization": f"Bearer {token(url)}"}
    body = {"data": [{"attributes": {"advertiserId": "12345", "name": name, "contactList": {}}}]}
    created = requests.post(
        f"{url}/2026-07/marketing-solutions/audience-segments/create", json=body, headers=headers, timeout=5
    )
    segment_id = str(created.json()["data"][0]["id"])
    amendment = {
        "data": {
            "type": "ContactlistAmendment",
            "attributes": {"operation": "add", "identifierType": "email", "identifiers": identifiers},
        }
    }
    amended = requests.patch(
        f"{url}/2026-07/marketing-solutions/audience-segments/{segment_id}/contact-list",
        json=amendment,
        headers=headers,
        timeout=5,
    )
    assert amended.status_code == 200, amended.text
    return segment_id


def test_port_zero_picks_a_free_port_and_stop_releases_it():
    sandbox = CriteoSandbox(port=0).start()
    try:
        assert sandbox.port > 0
        assert sandbox.url == f"http://127.0.0.1:{sandbox.port}"
        assert requests.get(
            sandbox.url + ME, headers={"Authorization": f"Bearer {token(sandbox.url)}"}, timeout=5
        ).ok
        with pytest.raises(RuntimeError, match="already running"):
            sandbox.start()
    finally:
        sandbox.stop()

    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(sandbox.url + ME, timeout=1)


def test_two_sandboxes_run_side_by_side_with_their_own_state():
    with CriteoSandbox() as first, CriteoSandbox() as second:
        create_and_fill(first.url, "vip", ["a@example.com"])

        assert first.port != second.port
        assert len(first.segments()) == 1
        assert second.segments() == []


def test_a_state_file_keeps_audiences_across_restarts(tmp_path):
    state_file = tmp_path / "criteo.json"
    with CriteoSandbox(state_file=state_file) as sandbox:
        sandbox.add_app("kept", "secret")
        segment_id = create_and_fill(sandbox.url, "vip", ["a@example.com", "b@example.com"])
        old_token = token(sandbox.url)
    assert json.loads(state_file.read_text())["segments"][0]["name"] == "vip"

    with CriteoSandbox(state_file=state_file) as restarted:
        assert restarted.members(segment_id) == {"a@example.com", "b@example.com"}
        assert [segment["id"] for segment in restarted.segments()] == [segment_id]
        assert "kept" in restarted.state.apps
        stale = requests.get(restarted.url + ME, headers={"Authorization": f"Bearer {old_token}"}, timeout=5)
        assert stale.status_code == 401
        assert int(create_and_fill(restarted.url, "next", ["c@example.com"])) == int(segment_id) + 1


def test_airflow_connection_points_at_the_sandbox():
    sandbox = CriteoSandbox(state=SandboxState("my-id", "my-secret", "777"))

    with sandbox:
        connection = sandbox.airflow_connection("my-id", "777")

    assert connection == {
        "conn_type": "criteo",
        "host": sandbox.url,
        "login": "my-id",
        "password": "my-secret",
        "extra": {"advertiser_id": "777", "api_version": "2026-07", "data_transfer_consent": True},
    }


def run_command(command: list[str], tmp_path: Path) -> tuple[subprocess.Popen[str], str, dict]:
    """Start the command-line sandbox; return the process, its URL and its Airflow connection."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    assert process.stdout is not None
    url_line = process.stdout.readline()
    conn_line = process.stdout.readline()
    assert url_line.startswith("Criteo sandbox listening on http://127.0.0.1:"), (
        url_line + process.stderr.read()
    )
    prefix = "export AIRFLOW_CONN_CRITEO_DEFAULT="
    assert conn_line.startswith(prefix), conn_line
    return process, url_line.split()[-1], json.loads(conn_line[len(prefix) :].strip().strip("'"))


def stop_command(process: subprocess.Popen[str], sig: signal.Signals) -> None:
    """Stop the command-line sandbox as a user would and check it exits cleanly."""
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    assert "Criteo sandbox stopped." in stderr


@pytest.mark.parametrize("entry", ["module", "console-script"])
def test_the_command_serves_prints_a_connection_and_saves_state_on_ctrl_c(tmp_path, entry):
    script = shutil.which("criteo-sandbox", path=str(Path(sys.executable).parent))
    if entry == "console-script" and script is None:
        pytest.skip("the criteo-sandbox console script is not installed")
    launcher = (
        [script] if entry == "console-script" else [sys.executable, "-m", "airflow_provider_criteo.sandbox"]
    )
    state_file = tmp_path / "state.json"
    args = [
        "--port",
        "0",
        "--client-id",
        "cli-id",
        "--client-secret",
        "cli-secret",
        "--advertiser-id",
        "4242",
        "--state-file",
        str(state_file),
        "--rate-limit",
        "100",
        "--token-lifetime",
        "60",
        "--log-level",
        "warning",
    ]
    process, url, connection = run_command([*launcher, *args], tmp_path)
    try:
        assert connection == {
            "conn_type": "criteo",
            "host": url,
            "login": "cli-id",
            "password": "cli-secret",
            "extra": {"advertiser_id": "4242", "api_version": "2026-07", "data_transfer_consent": True},
        }
        form = {"grant_type": "client_credentials", "client_id": "cli-id", "client_secret": "cli-secret"}
        issued = requests.post(f"{url}/oauth2/token", data=form, timeout=5).json()
        assert issued["expires_in"] == 60
        me = requests.get(
            f"{url}/2026-07/advertisers/me",
            headers={"Authorization": f"Bearer {issued['access_token']}"},
            timeout=5,
        )
        assert me.json()["data"][0]["id"] == "4242"
        assert me.headers["x-ratelimit-limit"] == "100"
    finally:
        stop_command(process, signal.SIGINT)
    assert json.loads(state_file.read_text())["apps"][0]["client_id"] == "cli-id"


def test_the_command_reloads_its_state_file_and_stops_on_sigterm(tmp_path):
    state_file = tmp_path / "state.json"
    with CriteoSandbox(state_file=state_file) as sandbox:
        segment_id = create_and_fill(sandbox.url, "vip", ["a@example.com"])
    command = [
        sys.executable,
        "-m",
        "airflow_provider_criteo.sandbox",
        "--port",
        "0",
        "--state-file",
        str(state_file),
    ]

    process, url, _ = run_command(command, tmp_path)
    try:
        members = requests.get(f"{url}/_sandbox/segments/{segment_id}/members", timeout=5).json()["members"]
        assert members == ["a@example.com"]
        journal = requests.get(f"{url}/_sandbox/requests", timeout=5).json()
        assert journal == []
    finally:
        stop_command(process, signal.SIGTERM)
    assert os.path.exists(state_file)


def test_the_command_answers_schema_minimal_when_asked(tmp_path):
    command = [sys.executable, "-m", "airflow_provider_criteo.sandbox", "--port", "0", "--schema-minimal"]
    process, url, connection = run_command(command, tmp_path)
    try:
        form = {
            "grant_type": "client_credentials",
            "client_id": connection["login"],
            "client_secret": connection["password"],
        }
        token = requests.post(f"{url}/oauth2/token", data=form, timeout=5).json()["access_token"]
        me = requests.get(
            f"{url}/2026-07/advertisers/me", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        assert me.json() == {"data": [{"id": connection["extra"]["advertiser_id"]}]}
    finally:
        stop_command(process, signal.SIGTERM)
