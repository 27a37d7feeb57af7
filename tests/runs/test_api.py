"""REST API of runs: launch, limits, cancel, list/detail/metrics/compare, visibility (no processes)."""
from __future__ import annotations

import pytest

from composer.graphs.models import Visibility
from composer.runs import services
from composer.runs.models import Run, RunEvent, RunStatus
from tests.runs.conftest import launch_body, tiny_spec

pytestmark = pytest.mark.django_db


def launch(client, graph, **overrides):
    return client.post(f"/api/graphs/{graph.pk}/runs/", launch_body(**overrides), format="json")


def test_launch_creates_queued_run_of_exact_version_and_enqueues_after_commit(alice, make_graph, client_for, enqueued,
                                                                               django_capture_on_commit_callbacks):
    graph = make_graph(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = launch(client_for(alice), graph, steps=30, max_seconds=60)
    assert response.status_code == 201, response.json()
    body = response.json()
    run = Run.objects.get(pk=body["id"])
    assert run.status == RunStatus.QUEUED and body["status"] == "queued"
    assert run.graph_version == graph.latest_version and run.spec == graph.latest_version.spec
    assert body["version"] == graph.latest_version.number
    assert run.hyper == {"lr": 3e-3, "batch_size": 4, "steps": 30, "seed": 1}
    assert run.budget == {"max_seconds": 60, "max_tokens": None}
    assert run.task_params == {"num_tokens": 16, "vocab_size": 16, "train_examples": 0}  # defaults resolved
    assert body["queue_position"] == 1
    assert enqueued == [1]  # one queue message, naming no run (services.run_claim_next picks)
    # Every message carries the longest time limits a run may have; the run's own is armed once claimed.
    assert services.run_time_limits() == (3600 + 60, 3600 + 60 + 30) and services.run_time_limits(run) == (120, 150)
    first = RunEvent.objects.get(run=run)
    assert (first.seq, first.type, first.payload) == (1, "status", {"status": "queued"})


def test_nothing_is_enqueued_when_the_transaction_does_not_commit(alice, make_graph, client_for, enqueued,
                                                                 django_capture_on_commit_callbacks):
    graph = make_graph(alice)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        launch(client_for(alice), graph)
    assert len(callbacks) == 2 and enqueued == []  # live publish of the queued status + the enqueue


def test_queue_position_counts_earlier_queued_runs(alice, bob, make_graph, client_for, enqueued):
    graph_a, graph_b = make_graph(alice), make_graph(bob)
    launch(client_for(alice), graph_a)
    launch(client_for(bob), graph_b)
    assert launch(client_for(alice), graph_a).json()["queue_position"] == 3


def test_invalid_draft_is_refused_with_its_errors(alice, make_graph, client_for, enqueued):
    spec = tiny_spec()
    spec["nodes"][1]["type"] = "no_such_block"
    graph = make_graph(alice, spec=spec)
    response = launch(client_for(alice), graph)
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == services.MSG_DRAFT_INVALID
    assert any(error["node_id"] == "m" and error["field"] == "type" for error in body["extra"]["errors"])
    assert not Run.objects.exists()


def test_non_causal_block_is_refused_on_a_next_token_task_even_when_the_spec_allows_it(alice, make_graph, client_for,
                                                                                      enqueued):
    spec = tiny_spec()
    spec["nodes"][1]["type"] = "fnet"
    spec["model"]["allow_noncausal"] = True  # enough for a saved draft, not for next-token training
    graph = make_graph(alice, spec=spec)
    response = launch(client_for(alice), graph)
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == services.MSG_DRAFT_INVALID
    [error] = body["extra"]["errors"]
    assert (error["node_id"], error["field"], error["code"]) == ("m", "type", "noncausal")
    assert not Run.objects.exists()
    # A task that reads whole sequences (compression) takes it.
    response = launch(client_for(alice), graph, task="compression", task_params={"seq_len": 32})
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize("field, value", [("steps", 20_001), ("max_seconds", 3_601), ("batch_size", 513)])
def test_per_run_limits_name_the_field(alice, make_graph, client_for, enqueued, field, value):
    response = launch(client_for(alice), make_graph(alice), **{field: value})
    assert response.status_code == 400
    body = response.json()
    assert body["extra"]["field"] == field and field in body["message"]
    assert not Run.objects.exists()


def test_parameter_and_activation_limits_use_the_spec_cost(alice, make_graph, client_for, enqueued, settings):
    graph = make_graph(alice)
    settings.COMPOSER_RUN_LIMITS = {"max_params": 1000}
    response = launch(client_for(alice), graph)
    assert response.status_code == 400 and response.json()["extra"]["field"] == "params"
    settings.COMPOSER_RUN_LIMITS = {"max_activation_bytes": 1000}
    response = launch(client_for(alice), graph)
    assert response.status_code == 400 and response.json()["extra"]["field"] == "activation_bytes"


def test_bad_hyper_parameters_are_400_naming_the_field(alice, make_graph, client_for, enqueued):
    response = launch(client_for(alice), make_graph(alice), lr="fast")
    assert response.status_code == 400
    assert "lr" in response.json()["extra"]["fields"]


def test_unknown_task_and_bad_task_params_are_400(alice, make_graph, client_for, enqueued):
    graph = make_graph(alice)
    response = launch(client_for(alice), graph, task="no_such_task")
    assert response.status_code == 400 and response.json()["extra"]["errors"][0]["field"] == "task"
    response = launch(client_for(alice), graph, task_params={"num_tokens": -5})
    assert response.status_code == 400
    assert response.json()["extra"]["errors"][0]["field"] == "task_params.num_tokens"


def test_task_longer_than_the_model_is_refused(alice, make_graph, client_for, enqueued):
    response = launch(client_for(alice), make_graph(alice), task="induction_heads", task_params={"seq_len": 128})
    assert response.status_code in (400,)
    assert "task_params" in response.json()["message"]


def test_queued_limit_per_user_is_429(alice, make_graph, client_for, enqueued, settings):
    settings.COMPOSER_RUN_LIMITS = {"max_queued_per_user": 2}
    graph, client = make_graph(alice), client_for(alice)
    assert launch(client, graph).status_code == 201
    assert launch(client, graph).status_code == 201
    response = launch(client, graph)
    assert response.status_code == 429
    assert response.json()["message"] == services.MSG_TOO_MANY_QUEUED.format(count=2, limit=2)


def test_running_limit_per_user_is_429(alice, make_graph, client_for, enqueued, settings):
    settings.COMPOSER_RUN_LIMITS = {"max_running_per_user": 1}
    graph, client = make_graph(alice), client_for(alice)
    Run.objects.filter(pk=launch(client, graph).json()["id"]).update(status=RunStatus.RUNNING)
    response = launch(client, graph)
    assert response.status_code == 429
    assert response.json()["message"] == services.MSG_TOO_MANY_RUNNING.format(count=1, limit=1)


def test_launch_needs_authentication_and_a_readable_graph(alice, bob, make_graph, client_for, enqueued):
    graph = make_graph(alice)
    assert launch(client_for(None), graph).status_code in (401, 403)
    assert launch(client_for(bob), graph).status_code == 404


def test_cancel_of_a_queued_run_ends_it_without_starting(alice, make_graph, client_for, enqueued):
    client = client_for(alice)
    run_id = launch(client, make_graph(alice)).json()["id"]
    response = client.post(f"/api/runs/{run_id}/cancel/")
    assert response.status_code == 200 and response.json()["status"] == "cancelled"
    run = Run.objects.get(pk=run_id)
    assert run.status == RunStatus.CANCELLED and run.started_at is None
    assert [(e.seq, e.type) for e in RunEvent.objects.filter(run=run)] == [(1, "status"), (2, "status"), (3, "done")]
    # A worker that takes its queue message afterwards starts nothing.
    assert services.run_claim_next() is None and services.run_start(run_id=run_id, attempt=1) is None


def test_cancel_of_a_running_run_sets_the_flag_the_worker_reads(alice, make_graph, client_for, enqueued):
    client = client_for(alice)
    run_id = launch(client, make_graph(alice)).json()["id"]
    assert services.run_start(run_id=run_id, attempt=1) is not None
    assert client.post(f"/api/runs/{run_id}/cancel/").status_code == 200
    assert services.run_heartbeat(run_id=run_id, attempt=1) == services.RunControl(stop=True, reason="cancelled")


def test_cancel_by_another_user_is_refused_and_finished_runs_are_409(alice, bob, make_graph, client_for, enqueued):
    client = client_for(alice)
    run_id = launch(client, make_graph(alice, visibility=Visibility.PUBLIC)).json()["id"]
    response = client_for(bob).post(f"/api/runs/{run_id}/cancel/")
    assert response.status_code == 403 and response.json()["message"] == services.MSG_NOT_OWNER
    Run.objects.filter(pk=run_id).update(status=RunStatus.SUCCEEDED)
    response = client.post(f"/api/runs/{run_id}/cancel/")
    assert response.status_code == 409


def _record_metrics(run, points):
    services.run_events_append(run_id=run.pk, events=[{"type": "metrics", **point} for point in points])


def test_detail_has_metrics_summary_and_metrics_since_pages_events(alice, make_graph, client_for, enqueued):
    client = client_for(alice)
    run = Run.objects.get(pk=launch(client, make_graph(alice)).json()["id"])
    _record_metrics(run, [{"step": s, "split": "train", "loss": 3.0 - s / 10} for s in (1, 2, 3)]
                    + [{"step": 3, "split": "eval", "loss": 2.5, "accuracy": 0.25}])
    detail = client.get(f"/api/runs/{run.pk}/").json()
    assert detail["metrics"]["points"] == 4 and detail["metrics"]["last_seq"] == 5
    assert detail["metrics"]["latest"]["train"]["loss"] == pytest.approx(2.7)
    assert detail["metrics"]["latest"]["eval"]["accuracy"] == 0.25
    page = client.get(f"/api/runs/{run.pk}/metrics/?since=2").json()
    assert [e["seq"] for e in page["events"]] == [3, 4, 5] and page["last_seq"] == 5
    assert page["events"][0] == {"type": "metrics", "run": run.pk, "seq": 3, "step": 2, "split": "train", "loss": 2.8}
    assert client.get(f"/api/runs/{run.pk}/metrics/?since=-1").status_code == 400
    assert client.get(f"/api/runs/{run.pk}/metrics/?since=abc").status_code == 400


def test_private_runs_are_hidden_from_other_users(alice, bob, make_graph, client_for, enqueued):
    run_id = launch(client_for(alice), make_graph(alice)).json()["id"]
    assert client_for(bob).get(f"/api/runs/{run_id}/").status_code == 404
    assert client_for(None).get(f"/api/runs/{run_id}/metrics/").status_code == 404
    assert client_for(bob).get("/api/runs/").json()["count"] == 0
    assert client_for(alice).get("/api/runs/").json()["count"] == 1


def test_list_filters_by_graph_user_task_and_status(alice, bob, make_graph, client_for, enqueued):
    public = make_graph(alice, visibility=Visibility.PUBLIC)
    other = make_graph(bob, visibility=Visibility.PUBLIC)
    first = launch(client_for(alice), public).json()["id"]
    launch(client_for(alice), public, task="induction_heads", task_params={"seq_len": 32})
    launch(client_for(bob), other)
    Run.objects.filter(pk=first).update(status=RunStatus.SUCCEEDED)
    client = client_for(bob)

    def ids(query):
        response = client.get(f"/api/runs/?{query}")
        assert response.status_code == 200, response.json()
        return sorted(run["id"] for run in response.json()["results"])

    assert len(ids("")) == 3
    assert len(ids(f"graph={public.pk}")) == 2
    assert len(ids(f"user={alice.pk}")) == 2
    assert len(ids("task=induction_heads")) == 1
    assert ids("status=succeeded") == [first]
    assert client.get("/api/runs/?status=exploded").status_code == 400
    assert client.get("/api/runs/?graph=x").status_code == 400


def test_compare_aligns_curves_by_step(alice, make_graph, client_for, enqueued):
    client = client_for(alice)
    graph = make_graph(alice)
    run_a = Run.objects.get(pk=launch(client, graph).json()["id"])
    run_b = Run.objects.get(pk=launch(client, graph).json()["id"])
    _record_metrics(run_a, [{"step": 1, "split": "train", "loss": 3.0}, {"step": 2, "split": "train", "loss": 2.0}])
    _record_metrics(run_b, [{"step": 2, "split": "train", "loss": 2.5}, {"step": 3, "split": "train", "loss": 1.5}])
    body = client.get(f"/api/runs/compare/?ids={run_a.pk},{run_b.pk}").json()
    assert body["steps"] == [1, 2, 3]
    assert [run["series"]["train.loss"] for run in body["runs"]] == [[3.0, 2.0, None], [None, 2.5, 1.5]]
    # What the compare page tabulates: task parameters, budget, seed and the cost model's numbers.
    first = body["runs"][0]
    assert first["task_params"] == run_a.task_params and first["budget"] == run_a.budget
    assert first["seed"] == run_a.seed and set(first["cost"]) == {"params", "flops_per_token"}
    assert client.get("/api/runs/compare/?ids=1,x").status_code == 400
    assert client.get("/api/runs/compare/").status_code == 400
    assert client_for(None).get(f"/api/runs/compare/?ids={run_a.pk}").status_code == 404
