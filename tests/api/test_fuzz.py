"""Bad input never makes a server error: schemathesis against the OpenAPI schema, hypothesis specs.

Schemathesis drives every graph, account and registry operation through the Django WSGI app
with generated (mostly malformed) bodies, queries and path parameters; path ids are pointed at
real graphs so the deep code paths run too. The check is "no 5xx"; the error format is checked
on every 4xx as well.
"""
from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from schemathesis.checks import not_a_server_error

from tests.api.conftest import UserFactory, make_graph, valid_spec

MY_PATHS = r"^/api/(graphs|auth|me|users|blocks|tasks|spec-schema|limits)"
EXAMPLES_PER_OPERATION = 12

schema = schemathesis.openapi.from_wsgi("/api/schema/", get_wsgi_application()).include(path_regex=MY_PATHS)


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
def test_api_never_answers_a_server_error(case):
    user = UserFactory(username="fuzzer")
    token, _ = Token.objects.get_or_create(user=user)
    own = make_graph(user, visibility="public")
    if "graph_id" in case.path_parameters:
        case.path_parameters["graph_id"] = own.pk
    if "number" in case.path_parameters:
        case.path_parameters["number"] = 1
    if "username" in case.path_parameters:
        case.path_parameters["username"] = "fuzzer"
    response = case.call(headers={"Authorization": f"Token {token.key}"})
    case.validate_response(response, checks=[not_a_server_error])
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
