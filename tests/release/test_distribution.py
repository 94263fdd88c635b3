"""The release users install: a wheel and an sdist built from the tracked files, checked by twine, and
the wheel installed into a new virtual environment that holds only Airflow (and the SQLite provider of
the demo's warehouse), where the demo runs.

The new environment takes Airflow and the provider's dependencies at the versions of
``requirements/constraints.txt`` (so that CI installs the same every time), nothing of the test extra.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from criteo_examples import CRITEO_POOL, WAREHOUSE_CONN_ID

from airflow_provider_criteo.sandbox import CriteoSandbox
from demo import EXAMPLE_DAGS, REPO
from demo.warehouse import create_warehouse
from tests.helpers import demo_audiences, held_audiences

if TYPE_CHECKING:
    from collections.abc import Iterator

VENV_BIN = Path(sys.executable).parent
UV = VENV_BIN / "uv"
CUSTOMERS = 800
#: The oldest Airflow the provider declares and the newest it is pinned to, each with its constraints.
AIRFLOW_VERSIONS = {
    "3.2.0": REPO / "requirements" / "constraints-airflow-3.2.txt",
    "3.3.2": REPO / "requirements" / "constraints.txt",
}


def run(*command: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    """Run a command; fail with its output when it fails; return its standard output."""
    result = subprocess.run(
        [str(part) for part in command], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )
    output = f"{result.stdout}\n{result.stderr}"
    assert result.returncode == 0, f"{command} exited with {result.returncode}:\n{output}"
    return result.stdout


def installed_env(home: Path, **settings: str) -> dict[str, str]:
    """The environment of a command of the new virtual environment: none of this process's Airflow."""
    return {"PATH": os.environ.get("PATH", ""), "AIRFLOW_HOME": str(home), **settings}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built with ``python -m build`` from a copy of the tracked files."""
    tracked = run("git", "ls-files", cwd=REPO).splitlines()
    source = tmp_path_factory.mktemp("source")
    for name in tracked:
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((REPO / name).read_bytes())
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    run(sys.executable, "-m", "build", "--installer", "uv", "--outdir", out, source, env=env)
    return out


@pytest.fixture(scope="module", params=sorted(AIRFLOW_VERSIONS))
def clean_venv(request: pytest.FixtureRequest, dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with Airflow, the demo warehouse's SQL provider and the wheel, and
    nothing else; its ``bin`` folder."""
    venv = tmp_path_factory.mktemp("venv")
    run(UV, "venv", "--quiet", "--python", sys.executable, venv)
    (wheel,) = dist.glob("*.whl")
    version = request.param
    python = venv / "bin" / "python"
    # The demo's warehouse is SQLite: like any warehouse, it needs its own provider beside Airflow.
    run(UV, "pip", "install", "--quiet", "--python", python, "--constraint", AIRFLOW_VERSIONS[version],
        f"apache-airflow=={version}", "apache-airflow-providers-sqlite", wheel)  # fmt: skip
    installed = run(python, "-c", "import airflow; print(airflow.__version__)", env=installed_env(venv))
    assert installed.strip() == version
    return venv / "bin"


@pytest.fixture
def sandbox() -> Iterator[CriteoSandbox]:
    """The Criteo emulator the installed provider calls."""
    with CriteoSandbox() as criteo:
        yield criteo


def test_the_sdist_and_the_wheel_pass_twine_check_and_carry_the_license(dist: Path):
    files = sorted(dist.iterdir())
    assert sorted(path.suffix for path in files) == [".gz", ".whl"]
    assert "PASSED" in run(sys.executable, "-m", "twine", "check", "--strict", *files)
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "airflow_provider_criteo/py.typed" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert not [name for name in names if name.startswith(("tests/", "demo/", "example_dags/"))]


def test_the_installed_wheel_is_a_provider_airflow_lists(clean_venv: Path, tmp_path: Path):
    env = installed_env(tmp_path / "airflow")
    providers = run(clean_venv / "airflow", "providers", "list", "--output", "json", env=env)
    (criteo,) = [p for p in json.loads(providers) if p["package_name"] == "airflow-provider-criteo"]
    assert criteo["version"]
    hooks = run(clean_venv / "airflow", "providers", "hooks", "--output", "json", env=env)
    assert "criteo" in {hook["connection_type"] for hook in json.loads(hooks)}


def test_the_demo_runs_on_the_installed_wheel(clean_venv: Path, sandbox: CriteoSandbox, tmp_path: Path):
    warehouse = tmp_path / "warehouse.db"
    create_warehouse(warehouse, customers=CUSTOMERS)
    warehouse_conn = {"conn_type": "sqlite", "host": str(warehouse)}
    env = installed_env(
        tmp_path / "airflow",
        AIRFLOW__CORE__DAGS_FOLDER=str(EXAMPLE_DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW_CONN_CRITEO_DEFAULT=json.dumps(sandbox.airflow_connection()),
        **{f"AIRFLOW_CONN_{WAREHOUSE_CONN_ID.upper()}": json.dumps(warehouse_conn)},
    )
    airflow = clean_venv / "airflow"
    run(airflow, "db", "migrate", env=env)
    run(airflow, "pools", "set", CRITEO_POOL, "2", "Criteo API calls", env=env)
    for dag_id in ("customer_profile_refresh", "criteo_segment_export"):
        run(airflow, "dags", "test", dag_id, env=env)

    assert held_audiences(sandbox) == demo_audiences(warehouse)
