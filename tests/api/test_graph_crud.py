"""Graph create / read / update / delete, drafts, versions, restore and diff through the API."""
from __future__ import annotations

import pytest

from composer.graphs.models import GraphVersion
from tests.api.conftest import invalid_spec, valid_spec

pytestmark = pytest.mark.django_db


def test_create_valid_graph_makes_version_one(owner_client):
    response = owner_client.post(
        "/api/graphs/", {"title": "Tiny", "spec": valid_spec(), "tags": ["ssm", "tiny"], "message": "first"}, format="json"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["is_valid"] is True
    assert body["validation"]["ok"] is True
    assert body["validation"]["cost"]["params"] > 0
    assert body["version"] == 1
    assert body["visibility"] == "private"
    assert body["owner"] == "owner"
    assert body["block_types"] == ["input", "mlp", "output"]
    version = GraphVersion.objects.get(graph_id=body["id"])
    assert (version.number, version.message, version.is_valid) == (1, "first", True)


def test_invalid_spec_is_saved_as_a_draft_with_its_errors(owner_client):
    response = owner_client.post("/api/graphs/", {"title": "Draft", "spec": invalid_spec()}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["is_valid"] is False
    errors = body["validation"]["errors"]
    assert any(error["node_id"] == "a" and error["field"] == "type" for error in errors), errors
    assert GraphVersion.objects.get(graph_id=body["id"]).is_valid is False


def test_anonymous_cannot_create(anon_client):
    response = anon_client.post("/api/graphs/", {"title": "x", "spec": valid_spec()}, format="json")
    assert response.status_code in (401, 403)
    assert "message" in response.json()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"spec": valid_spec()}, "title"),
        ({"title": "x"}, "spec"),
        ({"title": "x", "spec": "not an object"}, "spec"),
        ({"title": "x", "spec": {**valid_spec(), "nodes": "nope"}}, "spec.nodes"),
        ({"title": "x", "spec": {**valid_spec(), "nodes": [{"id": 3, "type": "mlp"}]}}, "spec.nodes[0].id"),
        ({"title": "x", "spec": {**valid_spec(), "edges": [["in"]]}}, "spec.edges[0]"),
        ({"title": "x", "spec": valid_spec(), "visibility": "secret"}, "visibility"),
        ({"title": "x", "spec": valid_spec(), "tags": "one"}, "tags"),
        ({"title": "x", "spec": {**valid_spec(), "model": {"note": "nul\u0000byte"}}}, "spec"),
        ({"title": "x" * 201, "spec": valid_spec()}, "title"),
    ],
)
def test_malformed_create_body_is_400_naming_the_field(owner_client, body, field):
    response = owner_client.post("/api/graphs/", body, format="json")
    assert response.status_code == 400, response.content
    payload = response.json()
    assert payload["message"].startswith(f"Invalid input: {field}:"), payload["message"]


def test_unparseable_json_is_400_naming_the_body(owner_client):
    response = owner_client.post("/api/graphs/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    assert "body" in response.json()["message"]


def test_oversized_body_is_413_json(owner_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    spec = valid_spec()
    spec["layout"] = {f"n{i}": {"x": i, "y": i} for i in range(200)}
    response = owner_client.post("/api/graphs/", {"title": "big", "spec": spec}, format="json")
    assert response.status_code == 413
    assert "too large" in response.json()["message"]


def test_oversized_spec_is_400_naming_spec(owner_client, settings):
    settings.COMPOSER_MAX_SPEC_BYTES = 2000
    spec = valid_spec()
    spec["layout"] = {f"n{i}": {"x": i, "y": i} for i in range(200)}
    response = owner_client.post("/api/graphs/", {"title": "big", "spec": spec}, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid input: spec:")
    assert "limit" in response.json()["message"]


def test_patch_spec_makes_a_new_version_and_metadata_does_not(owner_client, owner, graph_factory):
    graph = graph_factory(owner)
    spec = valid_spec()
    spec["model"]["d_model"] = 64
    response = owner_client.patch(f"/api/graphs/{graph.pk}/", {"spec": spec, "message": "wider"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["version"] == 2
    response = owner_client.patch(f"/api/graphs/{graph.pk}/", {"title": "Renamed", "tags": ["a", "A", " b "]}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "Renamed"
    assert response.json()["tags"] == ["a", "b"]
    assert response.json()["version"] == 2
    versions = owner_client.get(f"/api/graphs/{graph.pk}/versions/").json()
    assert [v["number"] for v in versions["results"]] == [2, 1]
    assert versions["results"][0]["message"] == "wider"


def test_version_detail_and_restore_makes_a_new_version(owner_client, owner, graph_factory):
    graph = graph_factory(owner)
    wider = valid_spec()
    wider["model"]["d_model"] = 64
    owner_client.patch(f"/api/graphs/{graph.pk}/", {"spec": wider}, format="json")
    assert owner_client.get(f"/api/graphs/{graph.pk}/versions/2/").json()["spec"]["model"]["d_model"] == 64

    response = owner_client.post(f"/api/graphs/{graph.pk}/versions/1/restore/", {}, format="json")
    assert response.status_code == 201
    assert response.json()["number"] == 3
    assert response.json()["message"] == "Restored version 1"
    detail = owner_client.get(f"/api/graphs/{graph.pk}/").json()
    assert detail["version"] == 3
    assert detail["spec"]["model"]["d_model"] == 32
    # history is untouched
    assert owner_client.get(f"/api/graphs/{graph.pk}/versions/2/").json()["spec"]["model"]["d_model"] == 64


def test_missing_version_is_404(owner_client, owner, graph_factory):
    graph = graph_factory(owner)
    assert owner_client.get(f"/api/graphs/{graph.pk}/versions/9/").status_code == 404
    assert owner_client.get(f"/api/graphs/{graph.pk}/versions/99999999999999999999/").status_code == 404
    assert owner_client.get("/api/graphs/99999999999999999999999/").status_code == 404


def test_versions_are_immutable(owner, graph_factory):
    from django.core.exceptions import ValidationError

    version = graph_factory(owner).versions.get()
    version.message = "rewritten"
    with pytest.raises(ValidationError):
        version.save()


def test_diff_reports_nodes_edges_params_and_model(owner_client, owner, graph_factory):
    graph = graph_factory(owner)
    spec = valid_spec()
    spec["model"]["d_model"] = 64
    spec["nodes"][1]["params"] = {"expand": 2}
    spec["nodes"].insert(2, {"id": "b", "type": "mamba"})
    spec["edges"] = [["in", "a"], ["a", "b"], ["b", "out"]]
    owner_client.patch(f"/api/graphs/{graph.pk}/", {"spec": spec}, format="json")

    diff = owner_client.get(f"/api/graphs/{graph.pk}/diff/?a=1&b=2").json()
    assert diff["nodes_added"] == [{"id": "b", "type": "mamba"}]
    assert diff["nodes_removed"] == []
    assert diff["nodes_changed"] == [{"id": "a", "params": {"expand": {"from": None, "to": 2}}}]
    assert diff["edges_added"] == [["a", "b"], ["b", "out"]]
    assert diff["edges_removed"] == [["a", "out"]]
    assert diff["model_changed"] == {"d_model": {"from": 32, "to": 64}}
    assert diff["layout_changed"] is False

    back = owner_client.get(f"/api/graphs/{graph.pk}/diff/?a=2&b=1").json()
    assert back["nodes_removed"] == [{"id": "b", "type": "mamba"}]


@pytest.mark.parametrize("query, field", [("a=1", "b"), ("a=x&b=1", "a"), ("a=1&b=7", "b"), ("a=-1&b=1", "a"), ("a=%C2%B2&b=1", "a")])
def test_bad_diff_query_is_400_naming_the_parameter(owner_client, owner, graph_factory, query, field):
    graph = graph_factory(owner)
    response = owner_client.get(f"/api/graphs/{graph.pk}/diff/?{query}")
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"Invalid input: {field}:")


def test_delete_removes_graph(owner_client, owner, graph_factory):
    graph = graph_factory(owner)
    assert owner_client.delete(f"/api/graphs/{graph.pk}/").status_code == 204
    assert owner_client.get(f"/api/graphs/{graph.pk}/").status_code == 404


def test_export_json_and_python(owner_client, owner, graph_factory):
    graph = graph_factory(owner)
    response = owner_client.get(f"/api/graphs/{graph.pk}/export/?format=json")
    assert response.status_code == 200
    assert response.json() == valid_spec()
    assert "attachment" in response["Content-Disposition"]
    response = owner_client.get(f"/api/graphs/{graph.pk}/export/?format=xml")
    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid input: format:")


def test_export_python_of_a_draft_is_refused_with_its_errors(owner_client, owner, graph_factory):
    graph = graph_factory(owner, spec=invalid_spec())
    response = owner_client.get(f"/api/graphs/{graph.pk}/export/?format=py")
    assert response.status_code == 400
    assert response.json()["extra"]["errors"][0]["node_id"] == "a"


def test_export_python_of_a_valid_graph_is_importable_source(owner_client, owner, graph_factory):
    pytest.importorskip("blocks.export")
    graph = graph_factory(owner)
    response = owner_client.get(f"/api/graphs/{graph.pk}/export/?format=py&vocab_size=100")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/x-python")
    assert 'filename="graph-' in response["Content-Disposition"]
    compile(response.content.decode(), "exported.py", "exec")  # syntactically valid Python
    assert owner_client.get(f"/api/graphs/{graph.pk}/export/?format=py&vocab_size=0").status_code == 400


def test_absurdly_nested_json_is_400_not_500(owner_client):
    body = '{"title": "deep", "spec": ' + "[" * 50_000 + "]" * 50_000 + "}"
    response = owner_client.post("/api/graphs/", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["message"].startswith("Invalid input: body:")
    nested = {"nodes": [], "edges": [], "layout": {}}
    cursor = nested["layout"]
    for _ in range(40):
        cursor["x"] = {}
        cursor = cursor["x"]
    response = owner_client.post("/api/graphs/validate/", {"spec": nested}, format="json")
    assert response.status_code == 400
    assert "nested" in response.json()["message"]


def test_deleting_a_graph_takes_its_owners_finished_runs_along(owner_client, owner, graph_factory):
    from composer.graphs.models import Graph
    from composer.runs.models import Run, RunStatus

    parent = graph_factory(owner, visibility="public")
    graph = graph_factory(owner)
    graph.forked_from = parent
    graph.save()
    Graph.objects.filter(pk=parent.pk).update(fork_count=1)
    Run.objects.create(graph=graph, graph_version=graph.versions.get(), user=owner, spec=graph.spec, task="copy",
                       status=RunStatus.SUCCEEDED)
    response = owner_client.delete(f"/api/graphs/{graph.pk}/")
    assert response.status_code == 204
    assert not Graph.objects.filter(pk=graph.pk).exists()
    assert not Run.objects.filter(graph_id=graph.pk).exists()
    assert Graph.objects.get(pk=parent.pk).fork_count == 0


@pytest.mark.parametrize("whose, status, message", [
    ("owner", "running", "GRAPH_HAS_ACTIVE_RUNS"),
    ("owner", "queued", "GRAPH_HAS_ACTIVE_RUNS"),
    ("other", "running", "GRAPH_HAS_ACTIVE_RUNS"),
])
def test_deleting_a_graph_with_active_runs_is_a_409_and_deletes_nothing(
        owner_client, owner, other, graph_factory, whose, status, message):
    from composer.graphs import services
    from composer.graphs.models import Graph
    from composer.runs.models import Run

    parent = graph_factory(owner, visibility="public")
    graph = graph_factory(owner, visibility="public")
    graph.forked_from = parent
    graph.save()
    Graph.objects.filter(pk=parent.pk).update(fork_count=1)
    run = Run.objects.create(graph=graph, graph_version=graph.versions.get(), user=owner if whose == "owner" else other,
                             spec=graph.spec, task="copy", status=status)
    response = owner_client.delete(f"/api/graphs/{graph.pk}/")
    assert response.status_code == 409
    assert response.json()["message"] == getattr(services, message)
    assert Graph.objects.filter(pk=graph.pk).exists() and Run.objects.filter(pk=run.pk).exists()
    assert Graph.objects.get(pk=parent.pk).fork_count == 1  # the decrement never happened