"""The layers: ``blocks/`` (the models) and ``workers/`` (the training engine) never import Django,
the web project or the task queue; the Django project calls them, never the other way round.

Two checks: no module in those trees names a forbidden package in any import statement (also
function-level ones), and importing every one of their modules in a fresh interpreter loads no
Django."""
from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ENGINE_TREES = ("blocks", "workers")
# The web side: Django and its apps, the Celery app and broker, the ASGI stack.
FORBIDDEN = {"django", "composer", "rest_framework", "drf_spectacular", "channels", "channels_redis", "celery",
             "kombu", "daphne", "asgiref"}


def engine_modules() -> list[Path]:
    return sorted(path for tree in ENGINE_TREES for path in (REPO / tree).rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("tree", ENGINE_TREES)
def test_no_engine_module_imports_the_web_side(tree):
    offenders = {str(path.relative_to(REPO)): sorted(imported_roots(path) & FORBIDDEN)
                 for path in engine_modules() if path.is_relative_to(REPO / tree)}
    assert {path: roots for path, roots in offenders.items() if roots} == {}
    assert len(offenders) > 5  # the scan saw the tree


@pytest.mark.slow
def test_importing_every_engine_module_loads_no_django():
    names = [".".join(path.relative_to(REPO).with_suffix("").parts).removesuffix(".__init__") for path in engine_modules()]
    script = ("import importlib, json, sys\n"
              f"for name in {names!r}:\n    importlib.import_module(name)\n"
              f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({sorted(FORBIDDEN)!r}))))")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300,
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
