"""The package's layout rules: few own imports per module, and client/ free of Airflow."""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = "airflow_provider_criteo"
ROOT = pathlib.Path(__file__).resolve().parents[1] / PACKAGE
#: At most this many of the package's own modules per module (a handful).
MAX_OWN_IMPORTS = 6
#: Modules still to split (README, Layout): they may not grow past what they import today.
NOT_YET_SPLIT = {}


def _modules() -> dict[str, pathlib.Path]:
    modules = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        modules[".".join(parts[:-1] if path.name == "__init__.py" else parts)] = path
    return modules


MODULES = _modules()


def _is_facade(path: pathlib.Path) -> bool:
    """A package ``__init__`` holding only its docstring, imports and ``__all__``."""
    return path.name == "__init__.py" and all(
        isinstance(node, ast.Import | ast.ImportFrom)
        or (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        or (
            isinstance(node, ast.Assign)
            and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__all__"]
        )
        for node in ast.parse(path.read_text()).body
    )


def own_imports(module: str) -> set[str]:
    """The package's own modules ``module`` imports: at run time, for type checking only, or lazily."""
    path = MODULES[module]
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            prefix = here[: len(here) - node.level + 1] if node.level else []
            base = ".".join([*prefix, *([node.module] if node.module else [])])
            if base == PACKAGE or base.startswith(f"{PACKAGE}."):
                found.update(
                    f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
                )
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith(f"{PACKAGE}."))
    return found - {module, PACKAGE}


@pytest.mark.parametrize("module", sorted(m for m, path in MODULES.items() if not _is_facade(path)))
def test_a_module_imports_a_handful_of_the_packages_own(module):
    assert len(own_imports(module)) <= MAX_OWN_IMPORTS, sorted(own_imports(module))


def test_the_counting_sees_type_only_and_submodule_imports():
    imported = own_imports(f"{PACKAGE}.workflows.export")
    assert f"{PACKAGE}.workflows.preflight" in imported  # from ..workflows import preflight
    assert f"{PACKAGE}.sync.list_plan" in own_imports(f"{PACKAGE}.sync.sending")  # under TYPE_CHECKING


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith(f"{PACKAGE}.client")))
def test_client_knows_nothing_of_airflow(module):
    tree = ast.parse(MODULES[module].read_text())
    names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [
        name for name in names if name == "airflow" or name.startswith(("airflow.", f"{PACKAGE}.hooks"))
    ]
