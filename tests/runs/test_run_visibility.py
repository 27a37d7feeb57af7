"""Run lists and pages never show a graph's title or spec to someone who can no longer read the
graph (issue 16, point 9): bob trained alice's public graph; she made it private and renamed it.
Bob still sees his own run and its results, not the graph's new title, nor the spec or its cost."""
from __future__ import annotations

import pytest

from composer.graphs.models import Visibility
from composer.graphs.services import graph_update
from composer.runs.models import Run
from composer.runs.services import run_events_append

pytestmark = pytest.mark.django_db

SECRET = "Secret new title"


@pytest.fixture
def bobs_run(alice, bob, make_graph):
    graph = make_graph(alice, visibility=Visibility.PUBLIC, title="Once public")
    version = graph.latest_version
    run = Run.objects.create(graph=graph, graph_version=version, user=bob, spec=version.spec, task="copy",
                             cost={"params": 123, "per_node": [{"id": "m"}]}, final_metrics={"eval_accuracy": 0.5})
    run_events_append(run_id=run.pk, events=[{"type": "status", "status": "queued"}])
    graph_update(graph=graph, user=alice, title=SECRET, visibility=Visibility.PRIVATE)
    return run


def test_the_launcher_keeps_the_run_but_not_the_graphs_title_or_spec(bobs_run, bob, client_for):
    client = client_for(bob)
    responses = {
        "list": client.get("/api/runs/"),
        "detail": client.get(f"/api/runs/{bobs_run.pk}/"),
        "compare": client.get(f"/api/runs/compare/?ids={bobs_run.pk}"),
        "metrics": client.get(f"/api/runs/{bobs_run.pk}/metrics/"),
        "cancel": client.post(f"/api/runs/{bobs_run.pk}/cancel/"),
    }
    for name, response in responses.items():
        assert response.status_code == 200, (name, response.json())
        assert SECRET not in response.content.decode() and "Once public" not in response.content.decode(), name
    listed = responses["list"].json()["results"]
    assert [(r["id"], r["graph_title"]) for r in listed] == [(bobs_run.pk, None)]
    detail = responses["detail"].json()
    assert (detail["graph_title"], detail["spec"], detail["cost"]) == (None, None, None)
    assert detail["final_metrics"] == {"eval_accuracy": 0.5} and detail["metrics"]["last_seq"] == 1
    assert responses["compare"].json()["runs"][0]["graph_title"] is None
    assert responses["cancel"].json()["graph_title"] is None


def test_whoever_reads_the_graph_still_sees_it(bobs_run, alice, client_for):
    client = client_for(alice)
    assert client.get("/api/runs/").json()["results"][0]["graph_title"] == SECRET
    detail = client.get(f"/api/runs/{bobs_run.pk}/").json()
    assert detail["graph_title"] == SECRET and detail["spec"] == bobs_run.spec and detail["cost"]["params"] == 123


def test_anyone_else_sees_nothing(bobs_run, make_user, client_for):
    for client in (client_for(make_user("carol")), client_for(None)):
        assert client.get("/api/runs/").json()["results"] == []
        assert client.get(f"/api/runs/{bobs_run.pk}/").status_code == 404
        assert client.get(f"/api/runs/compare/?ids={bobs_run.pk}").status_code == 404
