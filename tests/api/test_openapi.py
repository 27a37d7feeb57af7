"""The OpenAPI schema documents the API as it answers: generated without a warning, the spec as
its own JSON Schema (same verdicts), paginated lists as pages, launch as 201, errors as JSON."""
from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import jsonschema
import pytest
from django.conf import settings
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from blocks.spec import spec_json_schema
from composer.core.openapi import SPEC_COMPONENT
from tests.api.conftest import valid_spec

EXAMPLES = Path(settings.BASE_DIR) / "examples"


@pytest.fixture(scope="module")
def openapi() -> dict:
    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))


def test_schema_generates_without_a_warning_and_validates():
    call_command("spectacular", "--fail-on-warn", "--validate", "--file", os.devnull)


def _specs_to_judge() -> list[dict]:
    """Every shipped example, and mutations the JSON Schema must refuse (or accept)."""
    shipped = [json.loads(path.read_text()) for path in sorted(EXAMPLES.glob("*.json")) if path.name != "index.json"]
    base = valid_spec()
    mutations = []
    for change in (
        lambda s: s["nodes"][1].update(type="no_such_block"),
        lambda s: s["nodes"][1].update(params={"expansion": -5}),
        lambda s: s["nodes"][1].update(params={"no_such_param": 1}),
        lambda s: s["nodes"][1].update(surprise=True),
        lambda s: s["edges"].append(["in"]),
        lambda s: s["edges"].append(["in", 3]),
        lambda s: s.pop("model"),
        lambda s: s.update(version=2),
        lambda s: s["model"].update(d_model=1),
        lambda s: s["nodes"][1].update(params={"activation": "gelu"}),  # allowed
        lambda s: s["nodes"][0].update(params={"activation": "gelu"}),  # mlp's param on the input: refused
    ):
        spec = copy.deepcopy(base)
        change(spec)
        mutations.append(spec)
    return [*shipped, base, *mutations]


def test_spec_in_openapi_gives_the_json_schemas_verdict_on_every_spec(openapi):
    """The Spec component is the registry's JSON Schema rewritten for OpenAPI 3.0, not a second
    description: it accepts and refuses exactly what the 2020-12 original does."""
    original = jsonschema.Draft202012Validator(spec_json_schema())
    in_openapi = jsonschema.Draft4Validator({"$ref": f"#/components/schemas/{SPEC_COMPONENT}",
                                             "components": openapi["components"]})
    verdicts = [(original.is_valid(spec), in_openapi.is_valid(spec)) for spec in _specs_to_judge()]
    assert all(a == b for a, b in verdicts), verdicts
    assert {a for a, _ in verdicts} == {True, False}  # both verdicts were tried


def test_request_bodies_with_a_spec_use_the_spec_schema_and_a_shipped_example(openapi):
    create = openapi["paths"]["/api/graphs/"]["post"]["requestBody"]["content"]
    assert set(create) == {"application/json"}  # JSON only: nothing else is parsed
    body = create["application/json"]
    component = openapi["components"]["schemas"][body["schema"]["$ref"].rsplit("/", 1)[1]]
    assert component["properties"]["spec"]["allOf"] == [{"$ref": f"#/components/schemas/{SPEC_COMPONENT}"}]
    (example,) = body["examples"].values()
    first = next(iter(json.loads((EXAMPLES / "index.json").read_text())))
    assert example["value"]["spec"] == json.loads((EXAMPLES / first).read_text())


@pytest.mark.parametrize("path", ["/api/runs/", "/api/graphs/", "/api/report-cards/", "/api/graphs/{graph_id}/versions/"])
def test_paginated_lists_are_documented_as_pages(openapi, path):
    operation = openapi["paths"][path]["get"]
    assert {"page", "page_size"} <= {p["name"] for p in operation["parameters"]}
    name = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    page = openapi["components"]["schemas"][name]
    assert {"count", "next", "previous", "results"} <= set(page["properties"])
    assert page["properties"]["results"]["type"] == "array"


def test_launches_are_documented_with_the_status_they_answer(openapi):
    assert set(openapi["paths"]["/api/graphs/{graph_id}/runs/"]["post"]["responses"]) >= {"201", "400", "429"}
    assert "200" not in openapi["paths"]["/api/graphs/{graph_id}/runs/"]["post"]["responses"]
    assert {"200", "201"} <= set(openapi["paths"]["/api/graphs/{graph_id}/report-cards/"]["post"]["responses"])


def test_every_operation_documents_its_errors_as_the_error_body(openapi):
    error = {"$ref": "#/components/schemas/Error"}
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "503" in responses, (method, path)
            assert ("403" in responses) is (path != "/healthz"), (method, path)  # health asks no one who they are
            for code, response in responses.items():
                if code.startswith("4") or (code == "503" and path != "/healthz"):  # health's 503 is its report
                    assert response["content"]["application/json"]["schema"] == error, (method, path, code)


# --- what the schema promises, asked of the API ---------------------------------------------------

@pytest.mark.django_db
def test_a_bad_page_of_runs_is_a_400_naming_the_parameter(owner_client):
    response = owner_client.get("/api/runs/?page=abc")
    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid input: page:")
