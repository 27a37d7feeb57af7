"""``/api/graphs/validate/`` (issue 16, point 11; issue 13, point 4): throttled per address for
anonymous users; over the node limit one error says so and the rest of the graph is still checked
(edges between existing nodes stay fine); far over it, the one error alone, quickly."""
from __future__ import annotations

import pytest
from rest_framework.throttling import SimpleRateThrottle

from blocks.spec import DEFAULT_LIMITS, TOO_MANY_NODES, UNKNOWN_NODE, UNKNOWN_TYPE
from tests.api.conftest import client_for

pytestmark = pytest.mark.django_db

LIMIT = DEFAULT_LIMITS.max_nodes


def chain(count: int) -> dict:
    """input -> count mlp nodes -> output."""
    nodes = [{"id": "in", "type": "input"}, *({"id": f"n{i}", "type": "mlp"} for i in range(count)),
             {"id": "out", "type": "output"}]
    ids = [node["id"] for node in nodes]
    return {"version": 1, "model": {"d_model": 32, "max_seq_len": 64, "norm": "rmsnorm"}, "nodes": nodes,
            "edges": [list(pair) for pair in zip(ids, ids[1:])]}


def validate(spec, client=None):
    response = (client or client_for()).post("/api/graphs/validate/", {"spec": spec}, format="json",
                                             REMOTE_ADDR="198.51.100.9")
    return response


def test_over_the_node_limit_is_one_error():
    for count in (LIMIT + 50, 4 * LIMIT - 10, 9_000):  # 9,000: about 450 KB, under the spec size limit
        response = validate(chain(count))
        assert response.status_code == 200, response.json()
        body = response.json()
        assert not body["ok"]
        assert body["errors"] == [{"node_id": None, "field": "nodes", "code": TOO_MANY_NODES,
                                   "message": f"{count + 2} nodes exceed the limit of {LIMIT}"}], body["errors"][:3]
        assert len(response.content) < 1000


def test_over_the_node_limit_the_rest_of_the_graph_is_still_checked():
    spec = chain(LIMIT + 50)
    spec["nodes"][5]["type"] = "no_such_block"
    spec["edges"].append(["n3", "ghost"])
    errors = validate(spec).json()["errors"]
    codes = sorted(error["code"] for error in errors)
    assert codes.count(TOO_MANY_NODES) == 1
    assert UNKNOWN_TYPE in codes
    assert [e["node_id"] for e in errors if e["code"] == UNKNOWN_NODE] == ["ghost"]  # only the missing node


def test_errors_of_a_broken_graph_over_the_limit_are_capped():
    spec = chain(3 * LIMIT)
    for node in spec["nodes"][1:-1]:
        node["type"] = "no_such_block"
    errors = validate(spec).json()["errors"]
    assert len(errors) <= 102
    assert errors[0]["code"] == TOO_MANY_NODES
    assert errors[-1]["code"] == TOO_MANY_NODES and "more errors not listed" in errors[-1]["message"]


def test_anonymous_validation_is_throttled_per_address(owner, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"validate": "3/min", "writes": "3/min"})
    anonymous = client_for()
    codes = [validate(chain(1), anonymous).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    assert validate(chain(1), anonymous).json()["extra"]["retry_after_seconds"] > 0
    logged_in = client_for(owner)
    assert [validate(chain(1), logged_in).status_code for _ in range(5)] == [200] * 5
