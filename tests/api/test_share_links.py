"""Unlisted graphs are shared by an unguessable link, never by their id; forks say where they came
from (issue 13, point 6)."""
from __future__ import annotations

import base64
import sys
import types

import pytest

from composer.graphs.models import Graph
from tests.api.conftest import client_for, make_graph

pytestmark = pytest.mark.django_db


@pytest.fixture
def fake_diagram_renderer(monkeypatch):
    module = types.ModuleType("blocks.diagram")
    module.render = lambda spec, fmt: b"<svg xmlns='http://www.w3.org/2000/svg'/>"
    monkeypatch.setitem(sys.modules, "blocks.diagram", module)


def test_every_graph_has_its_own_token_of_at_least_128_random_bits(owner):
    graphs = [make_graph(owner, visibility=v) for v in ("unlisted", "unlisted", "private", "public")]
    tokens = [g.share_token for g in graphs]
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128


def test_unlisted_numeric_urls_are_404_to_others_and_the_token_url_answers(owner, other, fake_diagram_renderer):
    graph = make_graph(owner, visibility="unlisted", title="secret sauce")
    for client in (client_for(other), client_for(None)):
        for suffix in ("", "versions/", "versions/1/", "lineage/", "diff/?a=1&b=1", "export/?format=json", "diagram.svg"):
            assert client.get(f"/api/graphs/{graph.pk}/{suffix}").status_code == 404, suffix
        shared = client.get(f"/api/graphs/shared/{graph.share_token}/")
        assert shared.status_code == 200
        body = shared.json()
        assert body["id"] == graph.pk and body["title"] == "secret sauce" and body["owner"] == "owner"
        assert body["share_token"] is None and body["can_edit"] is False  # only the owner is told the secret
        assert client.get(f"/api/graphs/shared/{graph.share_token}/diagram.svg").status_code == 200
        assert client.get(f"/api/graphs/shared/{graph.share_token}/export/?format=json").json() == graph.spec
        assert client.get(f"/api/graphs/shared/{graph.share_token[:-1]}x/").status_code == 404
    # The owner sees the token (to copy the link) and still opens the graph by id.
    mine = client_for(owner).get(f"/api/graphs/{graph.pk}/").json()
    assert mine["share_token"] == graph.share_token and mine["can_edit"] is True


def test_a_private_graph_does_not_answer_its_token(owner, other):
    graph = make_graph(owner, visibility="unlisted")
    client_for(owner).patch(f"/api/graphs/{graph.pk}/", {"visibility": "private"}, format="json")
    assert client_for(other).get(f"/api/graphs/shared/{graph.share_token}/").status_code == 404
    assert client_for(owner).get(f"/api/graphs/shared/{graph.share_token}/").status_code == 404


def test_the_token_url_is_read_only(owner, other):
    graph = make_graph(owner, visibility="unlisted")
    client = client_for(other)
    assert client.patch(f"/api/graphs/shared/{graph.share_token}/", {"title": "x"}, format="json").status_code == 405
    assert client.delete(f"/api/graphs/shared/{graph.share_token}/").status_code == 405
    assert Graph.objects.get(pk=graph.pk).title == graph.title


def test_a_fork_is_titled_fork_and_says_whose_graph_and_which_version(owner, other):
    graph = make_graph(owner, visibility="unlisted", title="Hybrid")
    client_for(owner).patch(f"/api/graphs/{graph.pk}/", {"description": "v2"}, format="json")
    client_for(owner).patch(f"/api/graphs/{graph.pk}/", {"spec": graph.spec, "message": "second"}, format="json")
    assert client_for(other).post(f"/api/graphs/{graph.pk}/fork/", {}, format="json").status_code == 404
    response = client_for(other).post(f"/api/graphs/shared/{graph.share_token}/fork/", {}, format="json")
    assert response.status_code == 201
    fork = response.json()
    assert fork["title"] == "Hybrid (fork)"
    assert (fork["owner"], fork["forked_from_owner"], fork["forked_from_version"]) == ("other", "owner", 2)
    assert fork["forked_from_title"] == "Hybrid" and fork["forked_from"] == graph.pk
    assert fork["forked_from_link"] == f"/graphs/u/{graph.share_token}"  # the parent's id would be a 404
    message = client_for(other).get(f"/api/graphs/{fork['id']}/versions/1/").json()["message"]
    assert "owner" in message and "version 2" in message
    # Others reading the fork (made public) do not get the unlisted parent.
    client_for(other).patch(f"/api/graphs/{fork['id']}/", {"visibility": "public"}, format="json")
    seen = client_for(None).get(f"/api/graphs/{fork['id']}/").json()
    assert seen["forked_from"] is None and seen["forked_from_owner"] is None and seen["forked_from_link"] is None
    # Forking a public graph links to it by id; a given title wins; a long title still fits.
    public = make_graph(owner, visibility="public", title="P" * 200)
    fork = client_for(other).post(f"/api/graphs/{public.pk}/fork/", {}, format="json").json()
    assert fork["title"].endswith(" (fork)") and len(fork["title"]) == 200
    assert fork["forked_from_link"] == f"/graphs/{public.pk}" and fork["forked_from_owner"] == "owner"
    named = client_for(other).post(f"/api/graphs/{public.pk}/fork/", {"title": "Mine"}, format="json").json()
    assert named["title"] == "Mine"


@pytest.mark.django_db(transaction=True)
def test_the_migration_gives_existing_graphs_distinct_tokens():
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before, after = [("graphs", "0004_attention_old_defaults")], [("graphs", "0005_graph_share_token")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    user = old_apps.get_model("accounts", "User").objects.create(username="old") if _has_model(old_apps, "accounts", "User") \
        else old_apps.get_model("auth", "User").objects.create(username="old")
    OldGraph = old_apps.get_model("graphs", "Graph")
    for visibility in ("unlisted", "unlisted", "private"):
        OldGraph.objects.create(owner_id=user.pk, title="old", spec={}, visibility=visibility)
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(after)
    tokens = list(Graph.objects.values_list("share_token", flat=True))
    assert len(tokens) == 3 and len(set(tokens)) == 3 and all(len(t) >= 22 for t in tokens)


def _has_model(apps, label, name) -> bool:
    try:
        apps.get_model(label, name)
        return True
    except LookupError:
        return False
