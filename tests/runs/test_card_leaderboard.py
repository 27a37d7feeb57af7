"""What the browser pages of issue 12 read: the card list carries per-task scores and wall time (the
leaderboard sorts by them); the run list can leave report cards' runs out (the editor's run history)."""
from __future__ import annotations

import pytest

from composer.graphs.models import Visibility
from composer.runs import services
from composer.runs.models import Run, RunStatus
from tests.runs.cards_fixtures import TINY_SUITE, card_body, tiny_suite  # noqa: F401 (fixture)


@pytest.fixture
def enqueued(monkeypatch):
    monkeypatch.setattr("workers.jobs.enqueue_train_run", lambda **kwargs: f"task-{kwargs['run_id']}")


@pytest.mark.django_db
def test_the_list_has_task_scores_and_wall_time_once_a_card_is_finished(alice, make_graph, client_for, enqueued, tiny_suite):
    graph = make_graph(alice, visibility=Visibility.PUBLIC)
    card_id = client_for(alice).post(f"/api/graphs/{graph.pk}/report-cards/", card_body(), format="json").json()["id"]
    listed = client_for().get(f"/api/report-cards/?suite={TINY_SUITE}").json()["results"][0]
    assert listed["task_scores"] is None and listed["wall_seconds"] is None and listed["graph_is_template"] is False
    for run in Run.objects.filter(card_id=card_id):
        assert services.run_start(run_id=run.pk, attempt=run.attempt, hostname="w1") is not None
        services.run_finish(run_id=run.pk, attempt=run.attempt, status=RunStatus.SUCCEEDED,
                            result={"eval_accuracy": 0.5, "wall_seconds": 2.0})
    listed = client_for().get(f"/api/report-cards/?suite={TINY_SUITE}&order=-score").json()["results"][0]
    assert listed["task_scores"] == {"copy": pytest.approx(0.5)}
    assert listed["wall_seconds"] == pytest.approx(4.0)


@pytest.mark.django_db
def test_the_run_list_can_leave_card_runs_out(alice, make_graph, client_for, enqueued, tiny_suite):
    client = client_for(alice)
    graph = make_graph(alice)
    client.post(f"/api/graphs/{graph.pk}/report-cards/", card_body(), format="json")
    single = client.post(f"/api/graphs/{graph.pk}/runs/", {"task": "copy", "steps": 5}, format="json").json()["id"]
    every = client.get(f"/api/runs/?graph={graph.pk}").json()["results"]
    assert len(every) == 1 + Run.objects.filter(card__isnull=False).count()
    assert [r["id"] for r in client.get(f"/api/runs/?graph={graph.pk}&standalone=true").json()["results"]] == [single]
