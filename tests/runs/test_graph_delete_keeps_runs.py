"""Deleting a graph that others trained (issue 16, point 8): the owner is not refused; the owner's
own finished runs go with it; other users' runs stay theirs, with the frozen copy of the spec they
trained, their graph and version null, and the deleted graph's title and spec shown to nobody."""
from __future__ import annotations

import pytest

from composer.cards.models import ReportCard
from composer.graphs import services as graph_services
from composer.graphs.models import Graph, Visibility
from composer.runs.models import Run, RunStatus
from composer.runs.services import run_events_append

pytestmark = pytest.mark.django_db


def finished_run(graph, user, **fields) -> Run:
    version = graph.latest_version
    run = Run.objects.create(graph=graph, graph_version=version, user=user, spec=version.spec, task="copy",
                             status=RunStatus.SUCCEEDED, cost={"params": 1}, final_metrics={"eval_accuracy": 0.9},
                             **fields)
    run_events_append(run_id=run.pk, events=[{"type": "status", "status": "succeeded"}])
    return run


def test_others_runs_outlive_the_graph(alice, bob, make_user, make_graph, client_for):
    graph = make_graph(alice, visibility=Visibility.PUBLIC, title="Going away")
    spec = graph.latest_version.spec
    alices, bobs = finished_run(graph, alice), finished_run(graph, bob)

    assert client_for(alice).delete(f"/api/graphs/{graph.pk}/").status_code == 204
    assert not Graph.objects.filter(pk=graph.pk).exists()
    assert not Run.objects.filter(pk=alices.pk).exists()  # the owner's own go with the graph
    kept = Run.objects.get(pk=bobs.pk)
    assert (kept.graph_id, kept.graph_version_id, kept.spec, kept.final_metrics) == (None, None, spec, {"eval_accuracy": 0.9})

    bob_client = client_for(bob)
    listed = bob_client.get("/api/runs/").json()["results"]
    assert [(r["id"], r["graph"], r["graph_title"], r["version"]) for r in listed] == [(bobs.pk, None, None, None)]
    detail = bob_client.get(f"/api/runs/{bobs.pk}/")
    assert detail.status_code == 200
    assert (detail.json()["spec"], detail.json()["final_metrics"]) == (None, {"eval_accuracy": 0.9})
    assert bob_client.get(f"/api/runs/{bobs.pk}/metrics/").json()["events"][0]["status"] == "succeeded"
    assert bob_client.get(f"/api/runs/compare/?ids={bobs.pk}").json()["runs"][0]["graph_title"] is None
    assert "Going away" not in detail.content.decode()

    for client in (client_for(alice), client_for(make_user("carol")), client_for(None)):
        assert client.get(f"/api/runs/{bobs.pk}/").status_code == 404
        assert client.get("/api/runs/").json()["results"] == []


def test_another_users_report_card_still_refuses(alice, bob, make_graph, client_for):
    graph = make_graph(alice, visibility=Visibility.PUBLIC)
    card = ReportCard.objects.create(graph=graph, graph_version=graph.latest_version, user=bob, suite="quick",
                                     budget_kind="params", budget_value=1000, plan={}, content_hash="x",
                                     status="succeeded")
    finished_run(graph, bob, card=card, card_key="a")
    response = client_for(alice).delete(f"/api/graphs/{graph.pk}/")
    assert response.status_code == 409
    assert response.json()["message"] == graph_services.GRAPH_HAS_OTHERS_CARDS
    assert Graph.objects.filter(pk=graph.pk).exists() and Run.objects.filter(card=card).exists()


def test_the_owners_report_cards_go_with_the_graph(alice, make_graph, client_for):
    graph = make_graph(alice, visibility=Visibility.PUBLIC)
    card = ReportCard.objects.create(graph=graph, graph_version=graph.latest_version, user=alice, suite="quick",
                                     budget_kind="params", budget_value=1000, plan={}, content_hash="x",
                                     status="succeeded")
    finished_run(graph, alice, card=card, card_key="a")
    assert client_for(alice).delete(f"/api/graphs/{graph.pk}/").status_code == 204
    assert not ReportCard.objects.filter(pk=card.pk).exists() and not Run.objects.filter(card_id=card.pk).exists()
