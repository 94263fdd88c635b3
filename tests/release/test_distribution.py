"""The release users install: a wheel and an sdist built from the tracked files, checked by twine, and
the wheel installed into a new virtual environment that holds only Airflow (and the SQLite provider of
the demo's warehouse), where the demo runs.

The new environment takes Airflow and the provider's dependencies at the versions of
``requirements/constraints.txt`` (so that CI installs the same every time), nothing of the test extra.
"""

from __future__ import annotations

import json
import os
import sys
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from airflow_provider_criteo.sandbox import CriteoSandbox
from demo import REPO
from tests.helpers import clean_airflow_env, demo_audiences, held_audiences, run_command, run_demo

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


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sdist and the wheel, built with ``python -m build`` from a copy of the tracked files."""
    tracked = run_command("git", "ls-files", cwd=REPO).splitlines()
    source = tmp_path_factory.mktemp("source")
    for name in tracked:
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            (source / name).write_bytes((REPO / name).read_bytes())
    out = tmp_path_factory.mktemp("dist")
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    run_command(sys.executable, "-m", "build", "--installer", "uv", "--outdir", out, source, env=env)
    return out


@pytest.fixture(scope="module", params=sorted(AIRFLOW_VERSIONS))
def clean_venv(request: pytest.FixtureRequest, dist: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with Airflow, the demo warehouse's SQL provider and the wheel, and
    nothing else; its ``bin`` folder."""
    venv = tmp_path_factory.mktemp("venv")
    run_command(UV, "venv", "--quiet", "--python", sys.executable, venv)
    (wheel,) = dist.glob("*.whl")
    version = request.param
    python = venv / "bin" / "python"
    # The demo's warehouse is SQLite: like any warehouse, it needs its own provider beside Airflow.
    constraints = AIRFLOW_VERSIONS[version]
    run_command(UV, "pip", "install", "--quiet", "--python", python, "--constraint", constraints,
        f"apache-airflow=={version}", "apache-airflow-providers-sqlite", wheel)  # fmt: skip
    installed = run_command(
        python, "-c", "import airflow; print(airflow.__version__)", env=clean_airflow_env(venv)
    )
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
    assert "PASSED" in run_command(sys.executable, "-m", "twine", "check", "--strict", *files)
    (wheel,) = dist.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "airflow_provider_criteo/py.typed" in names
    assert "airflow_provider_criteo/ui/templates/overview.html" in names  # the Criteo view's pages
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert not [name for name in names if name.startswith(("tests/", "demo/", "example_dags/"))]


def test_the_installed_wheel_is_a_provider_airflow_lists(clean_venv: Path, tmp_path: Path):
    env = clean_airflow_env(tmp_path / "airflow")
    providers = run_command(clean_venv / "airflow", "providers", "list", "--output", "json", env=env)
    (criteo,) = [p for p in json.loads(providers) if p["package_name"] == "airflow-provider-criteo"]
    assert criteo["version"]
    hooks = run_command(clean_venv / "airflow", "providers", "hooks", "--output", "json", env=env)
    assert "criteo" in {hook["connection_type"] for hook in json.loads(hooks)}


def test_the_installed_wheel_brings_the_criteo_view(clean_venv: Path, tmp_path: Path):
    env = clean_airflow_env(tmp_path / "airflow")
    plugins = run_command(clean_venv / "airflow", "plugins", "--output", "json", env=env)
    (criteo,) = [plugin for plugin in json.loads(plugins.splitlines()[-1]) if plugin["name"] == "criteo"]
    assert "Criteo audiences" in str(criteo["external_views"])
    assert "/criteo" in str(criteo["fastapi_apps"])
    page = run_command(
        clean_venv / "python",
        "-c",
        "from airflow_provider_criteo.ui import app, pages; app.create_app(); "
        "print(pages.overview([], pages.History(), root=''))",
        env=env,
    )
    assert "No Criteo export has run yet" in page  # the app imports, the templates are installed


def test_the_demo_runs_on_the_installed_wheel(clean_venv: Path, sandbox: CriteoSandbox, tmp_path: Path):
    warehouse = run_demo([clean_venv / "airflow"], tmp_path, sandbox, CUSTOMERS)

    assert held_audiences(sandbox) == demo_audiences(warehouse)
