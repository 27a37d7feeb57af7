"""Gallery search, filters and ordering; stars; forks and lineage; validate; registry endpoints."""
from __future__ import annotations

import pytest

from composer.graphs.models import Graph
from tests.api.conftest import client_for, invalid_spec, make_graph, valid_spec

pytestmark = pytest.mark.django_db


def ids(response):
    assert response.status_code == 200, response.content
    return [item["id"] for item in response.json()["results"]]


def mamba_spec():
    spec = valid_spec()
    spec["nodes"][1] = {"id": "a", "type": "mamba", "params": {}}
    return spec


def test_search_matches_title_description_tags_and_block_types(owner, anon_client):
    by_title = make_graph(owner, visibility="public", title="Hybrid Zoo")
    by_description = make_graph(owner, visibility="public", title="x", description="a zoology-style recall model")
    by_tag = make_graph(owner, visibility="public", title="y", tags=["Recall"])
    by_block = make_graph(owner, visibility="public", title="z", spec=mamba_spec())
    assert ids(anon_client.get("/api/graphs/?q=zoo")) == [by_description.pk, by_title.pk]
    assert ids(anon_client.get("/api/graphs/?q=recall")) == [by_tag.pk, by_description.pk]
    assert ids(anon_client.get("/api/graphs/?q=mamba")) == [by_block.pk]
    assert ids(anon_client.get("/api/graphs/?block=mamba")) == [by_block.pk]
    assert ids(anon_client.get("/api/graphs/?block=mamb")) == []  # block types match whole names
    assert ids(anon_client.get("/api/graphs/?tag=recall")) == [by_tag.pk]


def test_filters_mine_starred_public_templates(owner, other):
    mine_private = make_graph(owner, visibility="private")
    theirs_public = make_graph(other, visibility="public")
    template = make_graph(other, visibility="public", is_template=True)
    client = client_for(owner)
    client.post(f"/api/graphs/{theirs_public.pk}/star/")
    assert ids(client.get("/api/graphs/?filter=mine")) == [mine_private.pk]
    assert ids(client.get("/api/graphs/?filter=starred")) == [theirs_public.pk]
    assert set(ids(client.get("/api/graphs/?filter=public"))) == {theirs_public.pk, template.pk}
    assert ids(client.get("/api/graphs/?filter=templates")) == [template.pk]
    assert set(ids(client.get("/api/graphs/"))) == {mine_private.pk, theirs_public.pk, template.pk}
    assert ids(client_for(None).get("/api/graphs/?filter=mine")) == []


def test_ordering_by_stars_and_forks(owner, other):
    few = make_graph(owner, visibility="public", title="few")
    many = make_graph(owner, visibility="public", title="many")
    for user in (owner, other):
        client_for(user).post(f"/api/graphs/{many.pk}/star/")
    client_for(other).post(f"/api/graphs/{few.pk}/fork/", {}, format="json")
    anon = client_for(None)
    assert ids(anon.get("/api/graphs/?ordering=stars"))[:2] == [many.pk, few.pk]
    assert ids(anon.get("/api/graphs/?ordering=forks")) == [few.pk, many.pk]


@pytest.mark.parametrize(
    "query, field",
    [("ordering=best", "ordering"), ("filter=everything", "filter"), ("page=0", "page"), ("page=abc", "page"),
     ("page=50", "page"), ("page=%C2%B2", "page"), ("page_size=1000", "page_size"), ("page_size=%C2%B2", "page_size"), ("q=" + "x" * 300, "q")],
)
def test_bad_gallery_query_is_400_naming_the_parameter(anon_client, query, field):
    response = anon_client.get(f"/api/graphs/?{query}")
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"Invalid input: {field}:"), response.json()


def test_pagination(owner, anon_client):
    for n in range(3):
        make_graph(owner, visibility="public", title=f"g{n}")
    body = anon_client.get("/api/graphs/?page_size=2").json()
    assert body["count"] == 3 and len(body["results"]) == 2 and body["next"]
    assert len(anon_client.get("/api/graphs/?page_size=2&page=2").json()["results"]) == 1


def test_star_and_unstar_are_idempotent(owner, other):
    graph = make_graph(owner, visibility="public")
    client = client_for(other)
    assert client.post(f"/api/graphs/{graph.pk}/star/").json() == {"starred": True, "star_count": 1}
    second = client.post(f"/api/graphs/{graph.pk}/star/")
    assert (second.status_code, second.json()["star_count"]) == (200, 1)
    assert client.get(f"/api/graphs/{graph.pk}/").json()["starred"] is True
    assert client.delete(f"/api/graphs/{graph.pk}/star/").json() == {"starred": False, "star_count": 0}
    assert client.delete(f"/api/graphs/{graph.pk}/star/").json() == {"starred": False, "star_count": 0}
    assert client_for(None).post(f"/api/graphs/{graph.pk}/star/").status_code in (401, 403)


def test_fork_records_parent_and_version_and_is_private(owner, other):
    parent = make_graph(owner, visibility="public", title="parent")
    client_for(owner).patch(f"/api/graphs/{parent.pk}/", {"spec": mamba_spec()}, format="json")
    response = client_for(other).post(f"/api/graphs/{parent.pk}/fork/", {}, format="json")
    assert response.status_code == 201
    fork = response.json()
    assert fork["owner"] == "other"
    assert fork["visibility"] == "private"
    assert fork["forked_from"] == parent.pk
    assert fork["forked_from_version"] == 2
    assert fork["spec"] == mamba_spec()
    assert fork["version"] == 1
    assert client_for(None).get(f"/api/graphs/{parent.pk}/").json()["fork_count"] == 1


def test_lineage_shows_ancestors_and_only_forks_the_viewer_may_list(owner, other):
    root = make_graph(owner, visibility="public", title="root")
    child = client_for(other).post(f"/api/graphs/{root.pk}/fork/", {"visibility": "public"}, format="json").json()
    private_fork = client_for(other).post(f"/api/graphs/{root.pk}/fork/", {}, format="json").json()
    unlisted_fork = client_for(other).post(f"/api/graphs/{root.pk}/fork/", {"visibility": "unlisted"}, format="json").json()
    grandchild = client_for(owner).post(f"/api/graphs/{child['id']}/fork/", {"visibility": "public"}, format="json").json()

    anon_view = client_for(None).get(f"/api/graphs/{root.pk}/lineage/").json()
    assert [g["id"] for g in anon_view["forks"]] == [child["id"]]
    assert anon_view["fork_count"] == 3
    assert anon_view["ancestors"] == []

    other_view = client_for(other).get(f"/api/graphs/{root.pk}/lineage/").json()
    assert {g["id"] for g in other_view["forks"]} == {child["id"], private_fork["id"], unlisted_fork["id"]}

    chain = client_for(None).get(f"/api/graphs/{grandchild['id']}/lineage/").json()
    assert [g["id"] for g in chain["ancestors"]] == [child["id"], root.pk]


def test_deleting_a_fork_decrements_the_parent_fork_count(owner, other):
    parent = make_graph(owner, visibility="public")
    fork = client_for(other).post(f"/api/graphs/{parent.pk}/fork/", {}, format="json").json()
    client_for(other).delete(f"/api/graphs/{fork['id']}/")
    assert Graph.objects.get(pk=parent.pk).fork_count == 0


def test_fork_of_private_graph_hides_parent_from_others(owner, other):
    """The owner forks their own private graph and shares the fork: others must not see the parent."""
    parent = make_graph(owner, visibility="private")
    fork = client_for(owner).post(f"/api/graphs/{parent.pk}/fork/", {"visibility": "public"}, format="json").json()
    seen = client_for(other).get(f"/api/graphs/{fork['id']}/").json()
    assert seen["forked_from"] is None and seen["forked_from_title"] is None
    listed = client_for(other).get("/api/graphs/?filter=public").json()["results"]
    assert [(g["id"], g["forked_from"]) for g in listed] == [(fork["id"], None)]
    assert client_for(other).get(f"/api/graphs/{fork['id']}/lineage/").json()["ancestors"] == []


def test_validate_returns_ok_errors_and_cost_without_saving(anon_client):
    response = anon_client.post("/api/graphs/validate/", {"spec": valid_spec()}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["errors"] == []
    assert set(body["cost"]) >= {"params", "flops_per_token", "activation_bytes", "complexity", "per_node"}
    bad = anon_client.post("/api/graphs/validate/", {"spec": invalid_spec()}, format="json").json()
    assert bad["ok"] is False
    assert set(bad["errors"][0]) == {"node_id", "field", "message", "code"}
    assert Graph.objects.count() == 0


@pytest.mark.parametrize(
    "body, field", [({}, "spec"), ({"spec": []}, "spec"), ({"spec": valid_spec(), "vocab_size": 1}, "vocab_size")]
)
def test_validate_bad_body_is_400(anon_client, body, field):
    response = anon_client.post("/api/graphs/validate/", body, format="json")
    assert response.status_code == 400
    assert response.json()["message"].startswith(f"Invalid input: {field}:")


def test_registry_endpoints(anon_client):
    blocks = anon_client.get("/api/blocks/").json()
    assert any(block["name"] == "mlp" for block in blocks)
    assert anon_client.get("/api/tasks/").status_code == 200
    schema = anon_client.get("/api/spec-schema/")
    assert schema.status_code == 200 and "properties" in schema.json()
    assert anon_client.get("/api/schema/").status_code == 200
    assert anon_client.get("/api/docs/").status_code == 200


def test_diagram_is_cached_per_version(owner, owner_client, monkeypatch):
    import sys
    import types

    calls = []
    module = types.ModuleType("blocks.diagram")
    module.render = lambda spec, fmt: calls.append(fmt) or b"<svg/>"
    monkeypatch.setitem(sys.modules, "blocks.diagram", module)
    graph = make_graph(owner)
    for _ in range(2):
        response = owner_client.get(f"/api/graphs/{graph.pk}/diagram.svg")
        assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    assert calls == ["svg"]
    owner_client.patch(f"/api/graphs/{graph.pk}/", {"spec": mamba_spec()}, format="json")
    owner_client.get(f"/api/graphs/{graph.pk}/diagram.svg")
    assert calls == ["svg", "svg"]


def test_diagram_with_the_real_renderer(owner, owner_client):
    pytest.importorskip("blocks.diagram")
    import shutil

    if shutil.which("dot") is None:
        pytest.skip("graphviz `dot` is not installed")
    graph = make_graph(owner)
    svg = owner_client.get(f"/api/graphs/{graph.pk}/diagram.svg")
    assert svg.status_code == 200 and b"<svg" in svg.content
    png = owner_client.get(f"/api/graphs/{graph.pk}/diagram.png")
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    draft = make_graph(owner, spec=invalid_spec())
    response = owner_client.get(f"/api/graphs/{draft.pk}/diagram.svg")
    assert response.status_code == 200 or (response.status_code == 400 and response.json()["extra"]["errors"])


def test_load_examples_is_idempotent(tmp_path):
    import json

    from django.core.management import call_command

    (tmp_path / "tiny.json").write_text(json.dumps(valid_spec()))
    (tmp_path / "index.json").write_text(json.dumps([{"file": "tiny.json", "title": "Tiny MLP", "tags": ["starter"]}]))
    call_command("load_examples", dir=str(tmp_path))
    call_command("load_examples", dir=str(tmp_path))
    template = Graph.objects.get()
    assert (template.title, template.owner.username, template.visibility, template.is_template) == ("Tiny MLP", "composer", "public", True)
    assert template.versions.count() == 1
    (tmp_path / "tiny.json").write_text(json.dumps(mamba_spec()))
    call_command("load_examples", dir=str(tmp_path))
    template = Graph.objects.get()
    assert template.versions.count() == 2 and template.block_types == ["input", "mamba", "output"]
    assert ids(client_for(None).get("/api/graphs/?filter=templates")) == [template.pk]


def test_shipped_examples_load_as_valid_public_templates():
    from io import StringIO
    from pathlib import Path

    from django.conf import settings
    from django.core.management import call_command

    examples = sorted(p for p in (Path(settings.BASE_DIR) / "examples").glob("*.json") if p.name != "index.json")
    if not examples:
        pytest.skip("no examples shipped yet")
    errors = StringIO()
    call_command("load_examples", stdout=StringIO(), stderr=errors)
    assert errors.getvalue() == ""  # every example validates
    templates = client_for(None).get("/api/graphs/?filter=templates&page_size=100").json()
    assert templates["count"] == len(examples)
    assert all(item["is_valid"] and item["owner"] == "composer" for item in templates["results"])
