"""Imports flow one way, flows → tasks → storage → config, and prefect stays in the shell."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["flows", "tasks", "storage", "config"]
# Modules of tasks/ allowed to import prefect: the thin task wrappers only.
PREFECT_IN_TASKS = {"tasks/prefect_tasks.py"}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", LAYERS)
def test_a_layer_imports_only_the_layers_below_it(layer: str) -> None:
    above = set(LAYERS[: LAYERS.index(layer)])
    offenders = {
        str(path.relative_to(REPO)): sorted(imported_packages(path) & above)
        for path in (REPO / layer).rglob("*.py")
        if imported_packages(path) & above
    }
    assert offenders == {}


@pytest.mark.parametrize("layer", ["tasks", "storage", "config"])
def test_prefect_is_imported_only_by_the_shell(layer: str) -> None:
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / layer).rglob("*.py")
        if "prefect" in imported_packages(path) and str(path.relative_to(REPO)) not in PREFECT_IN_TASKS
    ]
    assert offenders == []
