"""Who may do what: owner / other user / anonymous × private / unlisted / public × every action.

Others never learn that a private graph exists (404, not 403); unlisted graphs are readable by
their link's token only (their numeric URLs are 404 to others, like a private graph's) and never
listed; only the owner changes or deletes (403 for a graph the caller may read).
"""
from __future__ import annotations

import sys
import types

import pytest

from tests.api.conftest import client_for, make_graph

pytestmark = pytest.mark.django_db

VIEWERS = ("owner", "other", "anonymous")
VISIBILITIES = ("private", "unlisted", "public")
ACTIONS = ("read", "list", "update", "delete", "fork", "export", "diagram")


def expected(action: str, viewer: str, visibility: str):
    """The status (or, for list, whether the graph is listed) each cell must produce."""
    if viewer == "owner":
        return {"read": 200, "list": True, "update": 200, "delete": 204, "fork": 201, "export": 200, "diagram": 200}[action]
    if visibility in ("private", "unlisted"):  # unlisted: by token only (tests/api/test_share_links.py)
        return False if action == "list" else 404
    if action == "list":
        return visibility == "public"
    if action in ("read", "export", "diagram"):
        return 200
    if action == "fork":
        return 201 if viewer == "other" else 403
    return 403  # update, delete: readable but not theirs


@pytest.fixture
def fake_diagram_renderer(monkeypatch):
    """The access rules of the diagram view do not depend on graphviz being installed."""
    module = types.ModuleType("blocks.diagram")
    module.render = lambda spec, fmt: b"<svg xmlns='http://www.w3.org/2000/svg'/>" if fmt == "svg" else b"\x89PNG"
    monkeypatch.setitem(sys.modules, "blocks.diagram", module)
    return module


def perform(client, action: str, graph):
    base = f"/api/graphs/{graph.pk}/"
    if action == "read":
        return client.get(base)
    if action == "list":
        return client.get("/api/graphs/?page_size=100")
    if action == "update":
        return client.patch(base, {"title": "changed"}, format="json")
    if action == "delete":
        return client.delete(base)
    if action == "fork":
        return client.post(f"{base}fork/", {}, format="json")
    if action == "export":
        return client.get(f"{base}export/?format=json")
    if action == "diagram":
        return client.get(f"{base}diagram.svg")
    raise AssertionError(action)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("viewer", VIEWERS)
def test_access_matrix(viewer, visibility, action, owner, other, fake_diagram_renderer):
    graph = make_graph(owner, visibility=visibility, title=f"{visibility} graph")
    client = client_for({"owner": owner, "other": other, "anonymous": None}[viewer])
    response = perform(client, action, graph)
    want = expected(action, viewer, visibility)
    if action == "list":
        assert response.status_code == 200
        listed = {item["id"] for item in response.json()["results"]}
        assert (graph.pk in listed) is want
        return
    assert response.status_code == want, response.content[:300]
    if want >= 400:
        assert set(response.json()) == {"message", "extra"}
    from composer.graphs.models import Graph

    survivor = Graph.objects.filter(pk=graph.pk).first()
    assert (survivor is None) is (action == "delete" and want == 204)
    if survivor is not None:
        assert (survivor.title == "changed") is (action == "update" and want == 200)


@pytest.mark.parametrize("visibility", ("unlisted", "private"))
def test_unlisted_and_private_never_appear_in_search_or_user_pages(visibility, owner, other):
    make_graph(owner, visibility=visibility, title="needle hidden", tags=["needle"])
    for client in (client_for(other), client_for(None)):
        for query in ("?q=needle", "?q=mlp", "?tag=needle", "?block=mlp", "?filter=public", "?filter=templates"):
            assert client.get(f"/api/graphs/{query}").json()["results"] == [], query
        assert client.get("/api/users/owner/").json()["results"] == []


def test_writes_to_private_graph_of_another_user_are_404_for_every_write(owner, other):
    graph = make_graph(owner, visibility="private")
    client = client_for(other)
    base = f"/api/graphs/{graph.pk}"
    assert client.post(f"{base}/star/").status_code == 404
    assert client.post(f"{base}/versions/1/restore/", {}, format="json").status_code == 404
    assert client.get(f"{base}/versions/").status_code == 404
    assert client.get(f"{base}/versions/1/").status_code == 404
    assert client.get(f"{base}/diff/?a=1&b=1").status_code == 404
    assert client.get(f"{base}/lineage/").status_code == 404
    assert client.get(f"{base}/diagram.png").status_code == 404


def test_restore_by_non_owner_of_public_graph_is_403(owner, other):
    graph = make_graph(owner, visibility="public")
    response = client_for(other).post(f"/api/graphs/{graph.pk}/versions/1/restore/", {}, format="json")
    assert response.status_code == 403
    assert graph.versions.count() == 1


class TestCsrf:
    """Session-authenticated writes need the CSRF token; token-authenticated scripts do not."""

    def _session_client(self, user):
        from rest_framework.test import APIClient

        client = APIClient(enforce_csrf_checks=True)
        client.login(username=user.username, password="correct-horse-battery")
        return client

    def test_session_write_without_csrf_token_is_refused(self, owner):
        client = self._session_client(owner)
        response = client.post("/api/graphs/", {"title": "x", "spec": {"nodes": []}}, format="json")
        assert response.status_code == 403
        assert "CSRF" in response.json()["message"]

    def test_session_write_with_csrf_token_is_accepted(self, owner):
        from tests.api.conftest import valid_spec

        client = self._session_client(owner)
        token = client.get("/api/auth/csrf/").json()["csrf_token"]
        response = client.post("/api/graphs/", {"title": "x", "spec": valid_spec()}, format="json", HTTP_X_CSRFTOKEN=token)
        assert response.status_code == 201

    def test_token_auth_needs_no_csrf(self, owner):
        from rest_framework.authtoken.models import Token
        from rest_framework.test import APIClient

        from tests.api.conftest import valid_spec

        client = APIClient(enforce_csrf_checks=True)
        client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=owner).key}")
        response = client.post("/api/graphs/", {"title": "x", "spec": valid_spec()}, format="json")
        assert response.status_code == 201

    def test_login_without_csrf_token_is_refused(self, owner):
        from rest_framework.test import APIClient

        client = APIClient(enforce_csrf_checks=True)
        response = client.post("/api/auth/login/", {"username": "owner", "password": "correct-horse-battery"}, format="json")
        assert response.status_code == 403
