"""Bad input never makes a server error, and every answer is what the OpenAPI schema says.

Schemathesis drives every operation of the schema (graphs, runs, report cards, accounts,
registries) through the Django WSGI app: the schema's own examples (a shipped example's spec, a
short run, a small card, so creation and launch succeed), its coverage cases and generated (mostly
malformed) bodies, queries and path parameters. Path ids point at real objects (a public graph of
the fuzzing user, a finished run of it, a report card) so the deep code paths run; each case runs
in a savepoint rolled back afterwards, so a delete or a launch never changes what the next case
sees. Checks: no 5xx, and the status, content type, headers and body each conform to the schema.
Not checked: that the API refuses every body the schema would refuse, or accepts every body it
allows, since a draft spec the schema refuses is stored on purpose (``is_valid`` false) and a
spec the schema allows may still fail the graph rules (cycles, limits).
"""
from __future__ import annotations

from unittest import mock

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api.conftest import UserFactory, make_graph, valid_spec

EXAMPLES_PER_OPERATION = 12
FUZZER = "fuzzer"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]



def _operations_taking_a_spec(openapi: dict) -> list[tuple[str, str]]:
    """(method, path) of every operation whose request body has a spec (the Spec component)."""
    spec_ref = {"$ref": "#/components/schemas/Spec"}
    found = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            component = openapi["components"]["schemas"].get(body.get("$ref", "").rsplit("/", 1)[-1], {})
            if any(spec_ref in prop.get("allOf", []) for prop in component.get("properties", {}).values()):
                found.append((method.upper(), path))
    return found


def _schema():
    """The served schema, with the coverage phase (every boundary of every property: ~2,300 cases
    for a spec body, most of a minute per operation) left out where a spec is the body; the
    fuzzing and examples phases still send specs there, and the hypothesis test below sends 150."""
    app = get_wsgi_application()
    raw = schemathesis.openapi.from_wsgi("/api/schema/", app).raw_schema
    config = schemathesis.Config.from_dict({"operations": [
        {"include-method": method, "include-path": path, "phases": {"coverage": {"enabled": False}}}
        for method, path in _operations_taking_a_spec(raw)
    ]})
    return schemathesis.openapi.from_wsgi("/api/schema/", app, config=config)


schema = _schema()


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    """What the path parameters point at, created once for the module (and deleted after it):
    the fuzzing user and its token, a public graph, a finished run of it and a report card."""
    from composer.cards.services import CardRequest, card_launch
    from composer.runs.models import Run, RunStatus
    from workers.report_card import suites_json

    with django_db_blocker.unblock():
        user = UserFactory(username=FUZZER)
        token, _ = Token.objects.get_or_create(user=user)
        graph = make_graph(user, visibility="public")
        version = graph.latest_version
        run = Run.objects.create(graph=graph, graph_version=version, user=user, spec=version.spec, task="copy",
                                 status=RunStatus.SUCCEEDED, final_metrics={"loss": 1.0})
        with mock.patch("django.db.transaction.on_commit"):  # nothing is sent to a broker
            card, _ = card_launch(user=user, graph=graph,
                                  request=CardRequest(suite=suites_json()[0]["name"], params=100_000))
        yield {"token": token.key, "graph_id": graph.pk, "number": version.number, "username": FUZZER,
               "run_id": run.pk, "card_id": card.pk, "token_path": graph.share_token}
        user.delete()


@pytest.fixture
def _keep_test_database_connection():
    """The WSGI handler closes "old" connections after each request, which would close the test
    transaction's connection; Django's own test client turns that off the same way."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def _diagram_renderer(monkeypatch):
    """Whether graphviz is installed here is not what this test is about (a missing renderer is a 503)."""
    import sys
    import types

    module = types.ModuleType("blocks.diagram")
    module.render = lambda spec, fmt: b"<svg/>" if fmt == "svg" else b"\x89PNG"
    monkeypatch.setitem(sys.modules, "blocks.diagram", module)


@pytest.mark.django_db
@pytest.mark.usefixtures("_keep_test_database_connection", "_diagram_renderer")
@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_answers_what_its_schema_says(case, world):
    for name in ("graph_id", "number", "username", "run_id", "card_id"):
        if name in case.path_parameters:
            case.path_parameters[name] = world[name]
    if "token" in case.path_parameters:
        case.path_parameters["token"] = world["token_path"]
    with transaction.atomic():
        response = case.call(headers={"Authorization": f"Token {world['token']}"})
        transaction.set_rollback(True)
    # Health's 503 is its documented report that a part is down (no worker runs here): its body is
    # still checked against the schema.
    case.validate_response(response, checks=CHECKS if case.path != "/healthz" else CHECKS[1:])
    if 400 <= response.status_code < 500 and response.headers.get("Content-Type", "").startswith("application/json"):
        body = response.json()
        assert isinstance(body, dict) and set(body) == {"message", "extra"}, body


# --- hypothesis: arbitrary JSON and mutated specs on validate and create --------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
# Mostly shape-valid specs with random semantics (so validate_spec itself is exercised), some garbage.
ids = st.sampled_from(["in", "a", "b", "c", "r", "out"])
scalars = st.none() | st.booleans() | st.integers(-3, 5000) | st.floats(-1, 1e6, allow_nan=False) | st.sampled_from(["mean", "last", "x"])
node_types = st.sampled_from(["input", "output", "mlp", "mamba", "merge", "repeat", "chunk", "softmax_attention", "moe", "nope"])
nodes = st.fixed_dictionaries(
    {"id": ids, "type": node_types},
    optional={
        "params": st.dictionaries(st.sampled_from(["heads", "expand", "times", "d_state", "chunk_size", "summary", "experts", "top_k", "x"]), scalars, max_size=3),
        "parent": st.sampled_from(["a", "b", "r", "zz"]),
        "slot": st.sampled_from(["local", "global", "x"]),
    },
)
edges = st.lists(st.lists(st.sampled_from(["in", "a", "b", "c", "r", "out", "zz"]), min_size=2, max_size=2), max_size=7)
models = st.fixed_dictionaries(
    {},
    optional={"d_model": st.integers(-5, 10_000) | scalars, "max_seq_len": st.integers(-5, 100_000) | scalars,
              "norm": st.sampled_from(["rmsnorm", "layernorm", "batchnorm"]), "tie_embeddings": scalars,
              "allow_noncausal": scalars},
)
shaped_specs = st.fixed_dictionaries(
    {"nodes": st.lists(nodes, max_size=7), "edges": edges},
    optional={"version": st.integers(0, 3), "model": models, "layout": st.dictionaries(ids, json_values, max_size=2)},
)


@st.composite
def chain_specs(draw):
    """input → a chain of real sequence blocks → output, with a random model and sometimes odd params."""
    from blocks.registry import all_blocks

    names = sorted(block.name for block in all_blocks() if not block.structural)
    blocks = draw(st.lists(st.sampled_from(names), min_size=1, max_size=4))
    middle = [
        {"id": f"n{i}", "type": name, "params": draw(st.dictionaries(st.sampled_from(["heads", "expand", "d_state", "window"]), st.integers(0, 64), max_size=1))}
        for i, name in enumerate(blocks)
    ]
    chain = ["in", *(node["id"] for node in middle), "out"]
    return {
        "version": 1,
        "model": {"d_model": draw(st.sampled_from([16, 32, 48, 7, 0])), "max_seq_len": draw(st.sampled_from([32, 64, 8, 10**6])), "norm": "rmsnorm"},
        "nodes": [{"id": "in", "type": "input"}, *middle, {"id": "out", "type": "output"}],
        "edges": [list(pair) for pair in zip(chain, chain[1:])],
    }


specs = st.one_of(chain_specs(), chain_specs(), shaped_specs, shaped_specs, json_values)


@pytest.mark.django_db
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(spec=specs)
def test_validate_and_create_answer_200_or_400_for_any_spec(spec):
    user = UserFactory(username="hypo")
    client = APIClient()
    client.force_authenticate(user)
    validated = client.post("/api/graphs/validate/", {"spec": spec}, format="json")
    assert validated.status_code in (200, 400), validated.content[:500]
    if validated.status_code == 200:
        body = validated.json()
        assert body["ok"] is (body["errors"] == [])
        for error in body["errors"]:
            assert set(error) == {"node_id", "field", "message", "code"}
    else:
        assert validated.json()["message"].startswith("Invalid input: spec")
    created = client.post("/api/graphs/", {"title": "fuzz", "spec": spec}, format="json")
    assert created.status_code == (201 if validated.status_code == 200 else 400), created.content[:500]
    if created.status_code == 201:
        assert created.json()["is_valid"] is validated.json()["ok"]


@pytest.mark.django_db
def test_known_good_spec_round_trips_through_create_and_read():
    user = UserFactory(username="roundtrip")
    graph = make_graph(user)
    client = APIClient()
    client.force_authenticate(user)
    assert client.get(f"/api/graphs/{graph.pk}/").json()["spec"] == valid_spec()
