"""What the browser pages of issue 12 read: the card list carries per-task scores and wall time (the
leaderboard sorts by them; the cards here are trained by the engine and loaded as reference cards); the run list can leave report cards' runs out (the editor's run history)."""
from __future__ import annotations

import pytest
from django.core.management import call_command

from composer.graphs.models import Graph, Visibility
from composer.runs.models import Run
from tests.runs.cards_fixtures import TINY_SUITE, card_body, tiny_budget, tiny_suite  # noqa: F401 (fixture)
from tests.runs.conftest import tiny_spec
from tests.runs.reference_fixtures import reference_examples  # noqa: F401 (fixture)


@pytest.mark.django_db
def test_the_leaderboard_lists_cards_the_engine_computed_by_score_with_task_scores_and_wall_time(
        reference_examples, alice, make_graph, client_for, enqueued):
    # Cards trained by the engine (run_card), shipped and loaded as the examples' reference cards.
    directory, bench = reference_examples
    call_command("load_examples", "--dir", str(directory), stdout=open("/dev/null", "w"))
    # A card still training is listed without scores (and the leaderboard page leaves it out).
    spec = tiny_spec()
    spec["model"]["norm"] = "layernorm"  # not an example's spec, so a new card (the same one would be reused)
    graph = make_graph(alice, spec=spec, visibility=Visibility.PUBLIC)
    assert client_for(alice).post(f"/api/graphs/{graph.pk}/report-cards/", card_body(), format="json").status_code == 201
    board = f"/api/report-cards/?suite={TINY_SUITE}&budget_kind=params&budget={tiny_budget()}&order=-score"
    listed = client_for().get(board).json()["results"]
    assert len(listed) == 3
    finished, training = listed[:2], listed[2]
    assert [c["score"] for c in finished] == sorted((card["score"] for card in bench.values()), reverse=True)
    assert training["graph"] == graph.pk and training["score"] is None
    assert training["task_scores"] is None and training["wall_seconds"] is None and not training["graph_is_template"]
    for listed_card in finished:
        card = bench[Graph.objects.get(pk=listed_card["graph"]).template_slug]
        assert listed_card["graph_is_template"] and listed_card["public"] and listed_card["user"] == "composer"
        assert listed_card["task_scores"] == pytest.approx(card["tasks"])
        assert listed_card["wall_seconds"] == pytest.approx(card["wall_seconds"])
        assert listed_card["params"] == card["params"] and listed_card["state_bytes"] == card["state_bytes"]


@pytest.mark.django_db
def test_the_run_list_can_leave_card_runs_out(alice, make_graph, client_for, enqueued, tiny_suite):
    client = client_for(alice)
    graph = make_graph(alice)
    client.post(f"/api/graphs/{graph.pk}/report-cards/", card_body(), format="json")
    single = client.post(f"/api/graphs/{graph.pk}/runs/", {"task": "copy", "steps": 5}, format="json").json()["id"]
    every = client.get(f"/api/runs/?graph={graph.pk}").json()["results"]
    assert len(every) == 1 + Run.objects.filter(card__isnull=False).count()
    assert [r["id"] for r in client.get(f"/api/runs/?graph={graph.pk}&standalone=true").json()["results"]] == [single]
