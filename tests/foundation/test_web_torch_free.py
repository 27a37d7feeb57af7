"""The web process never imports torch: listing blocks and tasks, validating and costing every example,
and the editor's requests through Django (blocks, tasks, limits, a validate, a save) leave "torch" out of
``sys.modules``. Each check runs in a fresh interpreter, since the test process itself has torch loaded."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

REGISTRY_CODE = """
import json, sys
from pathlib import Path

from blocks.registry import all_blocks, registry_json
from blocks.spec import spec_json_schema, validate_spec

registry_json()
spec_json_schema()
checked = []
for path in sorted(Path("examples").glob("*.json")):
    if path.name == "index.json":
        continue
    result = validate_spec(json.loads(path.read_text()))
    assert result.ok and result.cost is not None and result.cost.params > 0, (path, result.to_json())
    checked.append(path.name)
for entry in all_blocks():
    entry.cost(64, 128, entry.resolve_params({}, d_model=64, max_seq_len=128))
print(json.dumps({"torch": "torch" in sys.modules, "examples": checked,
                  "torch_modules": sorted(m for m in sys.modules if m.endswith("_nn")),
                  "blocks": len(all_blocks())}))
"""

# The editor's requests, through Django's test client in a web process of its own (composer.settings.test,
# its own test database: a SQLite file under COMPOSER_VAR_DIR, or a PostgreSQL database named for the pid).
WEB_CODE = """
import json, os, sys

import django

django.setup()
from django.db import connection
from django.test.utils import setup_test_environment

if connection.vendor != "sqlite":
    connection.settings_dict.setdefault("TEST", {})["NAME"] = f"test_torch_free_{os.getpid()}"
setup_test_environment()
old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
try:
    from django.contrib.auth import get_user_model
    from django.test import Client

    spec = json.loads(open("examples/transformer.json").read())
    client = Client()
    client.force_login(get_user_model().objects.create_user("torchless", password="a-long-password-9"))
    status = {
        "blocks": client.get("/api/blocks/").status_code,
        "tasks": client.get("/api/tasks/").status_code,
        "limits": client.get("/api/limits/").status_code,
        "validate": client.post("/api/graphs/validate/", {"spec": spec}, content_type="application/json").status_code,
        "save": client.post("/api/graphs/", {"title": "no torch here", "spec": spec},
                            content_type="application/json").status_code,
    }
    tasks = client.get("/api/tasks/").json()
    print(json.dumps({"status": status, "tasks": len(tasks), "torch": "torch" in sys.modules}))
finally:
    connection.creation.destroy_test_db(old_name, verbosity=0)
"""


def run_python(code: str, **env) -> dict:
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, **env},
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_registry_validation_and_costs_never_import_torch():
    out = run_python(REGISTRY_CODE)
    assert out["torch"] is False
    assert out["torch_modules"] == []
    assert len(out["examples"]) >= 10 and out["blocks"] >= 20


def test_a_web_process_serving_the_editor_never_imports_torch(tmp_path):
    out = run_python(WEB_CODE, DJANGO_SETTINGS_MODULE="composer.settings.test", COMPOSER_VAR_DIR=str(tmp_path))
    assert out["status"] == {"blocks": 200, "tasks": 200, "limits": 200, "validate": 200, "save": 201}
    assert out["tasks"] >= 10
    assert out["torch"] is False


def test_building_a_block_is_what_imports_torch():
    """The check above can fail: the registry's ``build`` is the one path that loads the torch module."""
    out = run_python("import json, sys\nfrom blocks.registry import get_block\n"
                     "get_block('mlp').build(d_model=16, max_seq_len=8, **get_block('mlp').defaults())\n"
                     "print(json.dumps({'torch': 'torch' in sys.modules}))")
    assert out["torch"] is True
