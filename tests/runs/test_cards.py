"""Report cards without processes: launch (one transaction, 400s naming the field, reuse by content
hash), the card following its runs (succeeded / partial with the failed entries / cancelled),
authorisation, per-user limits counting a card as one job, broker priority behind single runs,
and the card's websocket."""
from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from composer.cards.models import CardStatus, ReportCard
from composer.cards.routing import websocket_urlpatterns
from composer.graphs.models import Visibility
from composer.runs import services
from composer.runs.consumers import CLOSE_FORBIDDEN
from composer.runs.models import Run, RunEvent, RunStatus
from tests.runs.cards_fixtures import TINY_SUITE, card_body, tiny_suite  # noqa: F401 (fixture)
from tests.runs.conftest import launch_body, tiny_spec


def launch_card(client, graph, **overrides):
    return client.post(f"/api/graphs/{graph.pk}/report-cards/", card_body(**overrides), format="json")


def finish(run: Run, *, accuracy: float | None = 0.5, status: str = RunStatus.SUCCEEDED, host: str = "w1") -> None:
    """What a worker does with a run: claim it, then record its end."""
    claimed = services.run_start(run_id=run.pk, attempt=run.attempt, hostname=host)
    assert claimed is not None
    services.run_finish(run_id=run.pk, attempt=run.attempt, status=status,
                        result={"eval_accuracy": accuracy, "wall_seconds": 1.0, "params": 100, "steps": 10})


# --- launch ---------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_launch_creates_the_card_and_one_queued_run_per_entry_enqueued_on_commit(
        alice, make_graph, client_for, enqueued, tiny_suite, django_capture_on_commit_callbacks):
    tiny_suite(settings=2, sweep=((3e-3, 0.0), (1e-3, 0.1)))
    graph = make_graph(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = launch_card(client_for(alice), graph, seeds=2)
    assert response.status_code == 201, response.json()
    body = response.json()
    card = ReportCard.objects.get(pk=body["id"])
    runs = list(card.runs.order_by("id"))
    assert len(runs) == 2 * 2 * 2 == len(card.plan["entries"]) == body["progress"]["total"]
    assert body["status"] == "queued" and body["progress"]["queued"] == 8 and body["progress"]["done"] == 0
    assert body["suite"] == TINY_SUITE and body["seeds"] == 2 and body["budget"]["kind"] == "params"
    assert body["public"] is False and len(body["content_hash"]) == 64 and body["params"] > 0
    assert [e["key"] for e in body["entries"]] == [e["key"] for e in card.plan["entries"]]
    first = runs[0]
    entry = card.plan["entries"][0]
    assert (first.card_key, first.task, first.seed, first.spec) == (entry["key"], "copy", entry["seed"], card.plan["spec"])
    assert first.hyper == {**entry["config"], "seed": entry["seed"]} and "weight_decay" in first.hyper
    assert first.budget["max_seconds"] == services.run_limits().max_seconds  # the normal per-run limit
    assert RunEvent.objects.filter(run=first, type="status").count() == 1
    assert enqueued == [1] * len(runs)  # a queue message per run; the fair-share rule orders them


@pytest.mark.django_db
@pytest.mark.parametrize("overrides, field", [
    ({"suite": "no-such-suite"}, "suite"),
    ({"params": 10}, "params"),                      # below the smallest width
    ({"params": 10**12}, "params"),                  # above the largest
    ({"state": 1000}, "params"),                     # both budgets given
    ({"params": None}, "params"),                    # neither
    ({"seeds": 6}, "seeds"),
    ({"seeds": 0}, "seeds"),
])
def test_bad_input_is_400_naming_the_field_and_creates_nothing(alice, make_graph, client_for, enqueued, tiny_suite,
                                                               overrides, field):
    response = launch_card(client_for(alice), make_graph(alice), **overrides)
    assert response.status_code == 400, response.json()
    body = response.json()
    assert field in body["extra"]["fields"] and body["message"]
    assert not ReportCard.objects.exists() and not Run.objects.exists() and enqueued == []


@pytest.mark.django_db
def test_a_task_refusing_a_block_is_400_naming_the_spec_field(alice, make_graph, client_for, enqueued, tiny_suite):
    spec = tiny_spec()
    spec["model"]["allow_noncausal"] = True  # a valid draft; next-token tasks still refuse FNet
    spec["nodes"][1]["type"] = "fnet"
    response = launch_card(client_for(alice), make_graph(alice, spec=spec))
    assert response.status_code == 400
    body = response.json()
    assert body["extra"]["field"].startswith("spec") and "copy" in body["message"]
    assert not ReportCard.objects.exists() and not Run.objects.exists()


@pytest.mark.django_db
def test_every_run_of_a_card_keeps_the_per_run_limits(alice, make_graph, client_for, enqueued, tiny_suite, settings):
    tiny_suite(steps=50)
    settings.COMPOSER_RUN_LIMITS = {"max_steps": 20}
    response = launch_card(client_for(alice), make_graph(alice))
    assert response.status_code == 400
    body = response.json()
    assert body["extra"]["field"] == "steps" and body["extra"]["entry"].startswith("copy/")
    assert not ReportCard.objects.exists() and not Run.objects.exists()


@pytest.mark.django_db
def test_an_identical_succeeded_card_is_reused_with_200(alice, bob, make_graph, client_for, enqueued, tiny_suite):
    graph = make_graph(alice, visibility=Visibility.PUBLIC)
    first = launch_card(client_for(alice), graph).json()
    again = launch_card(client_for(alice), graph)  # still running: the same card, not a second one
    assert (again.status_code, again.json()["id"]) == (200, first["id"])
    for run in Run.objects.filter(card_id=first["id"]):
        finish(run, accuracy=0.9)
    assert ReportCard.objects.get(pk=first["id"]).status == CardStatus.SUCCEEDED
    runs_before = Run.objects.count()
    # The same spec on another user's graph (layout differs: it never changes the model) is not trained again.
    spec = tiny_spec()
    spec["layout"] = {"m": {"x": 5, "y": 7}}
    reused = launch_card(client_for(bob), make_graph(bob, spec=spec))
    assert (reused.status_code, reused.json()["id"]) == (200, first["id"])
    assert Run.objects.count() == runs_before
    # Another budget or seed count is another card.
    assert launch_card(client_for(alice), graph, seeds=2).status_code == 201


@pytest.mark.django_db
def test_a_private_card_is_not_reused_for_someone_who_cannot_read_it(alice, bob, make_graph, client_for, enqueued,
                                                                     tiny_suite):
    first = launch_card(client_for(alice), make_graph(alice)).json()
    for run in Run.objects.filter(card_id=first["id"]):
        finish(run)
    response = launch_card(client_for(bob), make_graph(bob))
    assert response.status_code == 201 and response.json()["id"] != first["id"]


# --- the card follows its runs ---------------------------------------------------------------------


@pytest.mark.django_db
def test_the_card_runs_then_succeeds_with_its_summary(alice, make_graph, client_for, enqueued, tiny_suite):
    tiny_suite(settings=2, sweep=((3e-3, 0.0), (1e-3, 0.1)))
    client = client_for(alice)
    card_id = launch_card(client, make_graph(alice)).json()["id"]
    runs = list(Run.objects.filter(card_id=card_id).order_by("id"))
    services.run_start(run_id=runs[0].pk, attempt=1, hostname="w1")
    assert ReportCard.objects.get(pk=card_id).status == CardStatus.RUNNING
    services.run_finish(run_id=runs[0].pk, attempt=1, status=RunStatus.SUCCEEDED,
                        result={"eval_accuracy": 0.25, "wall_seconds": 1.0})
    detail = client.get(f"/api/report-cards/{card_id}/").json()
    assert detail["status"] == "running" and detail["progress"]["done"] == 1
    assert detail["summary"]["complete"] is False and len(detail["summary"]["pending"]) == 3
    assert detail["entries"][0]["status"] == "succeeded" and detail["entries"][0]["eval_accuracy"] == 0.25
    for run, accuracy in zip(runs[1:], (0.75, 0.5, 1.0)):
        finish(run, accuracy=accuracy)
    card = ReportCard.objects.get(pk=card_id)
    assert card.status == CardStatus.SUCCEEDED and card.finished_at and card.started_at
    assert card.summary["complete"] and card.summary["failed"] == [] and card.summary["pending"] == []
    rows = {row["setting"]: row["best_accuracy"] for row in card.summary["rows"]}
    assert rows == {"tokens=4": 0.75, "tokens=6": 1.0}  # best over the sweep
    assert card.score == card.summary["score"] == pytest.approx(0.875)
    assert client.get(f"/api/report-cards/{card_id}/").json()["summary"] == card.summary


@pytest.mark.django_db
def test_a_lost_worker_fails_only_its_runs_and_the_card_says_which(alice, make_graph, client_for, enqueued, tiny_suite):
    tiny_suite(settings=3)
    card_id = launch_card(client_for(alice), make_graph(alice)).json()["id"]
    lost, *others = Run.objects.filter(card_id=card_id).order_by("id")
    services.run_start(run_id=lost.pk, attempt=1, hostname="doomed")
    from datetime import timedelta

    from django.utils import timezone

    Run.objects.filter(pk=lost.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert services.runs_sweep_stale() == [lost.pk]
    assert ReportCard.objects.get(pk=card_id).status == CardStatus.RUNNING
    for run in others:
        finish(run, accuracy=0.5, host="healthy")
    card = ReportCard.objects.get(pk=card_id)
    assert card.status == CardStatus.PARTIAL
    assert card.summary["failed"] == [lost.card_key] and lost.card_key in card.summary["missing"]
    assert card.summary["score"] == pytest.approx(0.5)  # the rest still count
    assert [r["best_accuracy"] for r in card.summary["rows"]].count(None) == 1


@pytest.mark.django_db
def test_a_card_whose_runs_all_failed_is_failed(alice, make_graph, client_for, enqueued, tiny_suite):
    card_id = launch_card(client_for(alice), make_graph(alice)).json()["id"]
    for run in Run.objects.filter(card_id=card_id):
        services.run_fail(run_id=run.pk, message="boom")
    card = ReportCard.objects.get(pk=card_id)
    assert card.status == CardStatus.FAILED and card.score is None and len(card.summary["failed"]) == 2


@pytest.mark.django_db
def test_cancel_ends_queued_runs_at_once_and_flags_running_ones(alice, bob, make_graph, client_for, enqueued, tiny_suite):
    tiny_suite(settings=3)
    graph = make_graph(alice, visibility=Visibility.PUBLIC)
    card_id = launch_card(client_for(alice), graph).json()["id"]
    done, running, queued = Run.objects.filter(card_id=card_id).order_by("id")
    finish(done)
    services.run_start(run_id=running.pk, attempt=1, hostname="w1")
    assert client_for(bob).post(f"/api/report-cards/{card_id}/cancel/").status_code == 403
    response = client_for(alice).post(f"/api/report-cards/{card_id}/cancel/")
    assert response.status_code == 200 and response.json()["cancel_requested"]
    assert response.json()["status"] == "running"  # until the running run has stopped
    assert Run.objects.get(pk=queued.pk).status == RunStatus.CANCELLED
    assert Run.objects.get(pk=running.pk).cancel_requested
    services.run_finish(run_id=running.pk, attempt=1, status=RunStatus.CANCELLED, result={"stopped": "cancelled"})
    card = ReportCard.objects.get(pk=card_id)
    assert card.status == CardStatus.CANCELLED and card.summary["cancelled"] == sorted([running.card_key, queued.card_key])
    assert card.summary["rows"][0]["best_accuracy"] == 0.5  # what finished is kept
    assert client_for(alice).post(f"/api/report-cards/{card_id}/cancel/").status_code == 200  # idempotent


@pytest.mark.django_db
def test_cancel_of_a_finished_card_is_409(alice, make_graph, client_for, enqueued, tiny_suite):
    card_id = launch_card(client_for(alice), make_graph(alice)).json()["id"]
    for run in Run.objects.filter(card_id=card_id):
        finish(run)
    response = client_for(alice).post(f"/api/report-cards/{card_id}/cancel/")
    assert response.status_code == 409 and response.json()["extra"]["status"] == "succeeded"


# --- reads and authorisation -------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_private_graphs_cards_are_404_to_others_and_listed_for_their_owner(alice, bob, make_graph, client_for,
                                                                             enqueued, tiny_suite):
    private = launch_card(client_for(alice), make_graph(alice)).json()["id"]
    spec = tiny_spec()
    spec["model"]["norm"] = "layernorm"  # another spec: not the same card
    public_graph = make_graph(alice, spec=spec, visibility=Visibility.PUBLIC, title="public")
    public = launch_card(client_for(alice), public_graph).json()["id"]
    for client in (client_for(bob), client_for()):
        assert client.get(f"/api/report-cards/{private}/").status_code == 404
        assert client.post(f"/api/report-cards/{private}/cancel/").status_code in (401, 403, 404)
        assert [c["id"] for c in client.get("/api/report-cards/").json()["results"]] == [public]
    assert client_for(bob).get(f"/api/report-cards/{public}/").json()["public"] is True
    assert client_for(bob).post(f"/api/graphs/{make_graph(alice).pk}/report-cards/", card_body(), format="json").status_code == 404
    mine = client_for(alice).get("/api/report-cards/?mine=true").json()["results"]
    assert sorted(c["id"] for c in mine) == sorted([private, public])
    assert client_for(bob).get("/api/report-cards/?mine=true").json()["results"] == []
    by_graph = client_for(alice).get(f"/api/report-cards/?graph={public_graph.pk}&suite={TINY_SUITE}").json()["results"]
    assert [c["id"] for c in by_graph] == [public]
    assert client_for(alice).get("/api/report-cards/?suite=full").json()["results"] == []
    assert client_for(alice).get("/api/report-cards/?mine=maybe").status_code == 400


@pytest.mark.django_db
def test_leaderboard_orders_by_score(alice, make_graph, client_for, enqueued, tiny_suite):
    ids = []
    for title, accuracy in (("low", 0.2), ("high", 0.9)):
        spec = tiny_spec()
        spec["model"]["norm"] = "layernorm" if title == "high" else "rmsnorm"
        card_id = launch_card(client_for(alice), make_graph(alice, spec=spec, visibility=Visibility.PUBLIC, title=title)).json()["id"]
        for run in Run.objects.filter(card_id=card_id):
            finish(run, accuracy=accuracy)
        ids.append(card_id)
    board = client_for().get(f"/api/report-cards/?suite={TINY_SUITE}&order=-score").json()["results"]
    assert [c["id"] for c in board] == [ids[1], ids[0]] and board[0]["score"] == pytest.approx(0.9)


@pytest.mark.django_db
def test_suites_are_listed(client_for, tiny_suite):
    names = [suite["name"] for suite in client_for().get("/api/report-cards/suites/").json()]
    assert {"quick", "full", TINY_SUITE} <= set(names)


# --- limits ------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_card_counts_as_one_job_against_the_per_user_limits(alice, make_graph, client_for, enqueued, tiny_suite,
                                                              settings):
    tiny_suite(settings=4)
    settings.COMPOSER_RUN_LIMITS = {"max_queued_per_user": 2, "max_running_per_user": 1}
    client, graph = client_for(alice), make_graph(alice)
    card_id = launch_card(client, graph).json()["id"]  # 4 queued runs, one job
    assert client.post(f"/api/graphs/{graph.pk}/runs/", launch_body(), format="json").status_code == 201
    refused = launch_card(client, graph, seeds=2)
    assert refused.status_code == 429 and refused.json()["message"] == services.MSG_TOO_MANY_QUEUED.format(count=2, limit=2)
    assert ReportCard.objects.count() == 1
    # A card with two runs training at once is still one running job.
    first, second, *_ = Run.objects.filter(card_id=card_id).order_by("id")
    services.run_start(run_id=first.pk, attempt=1, hostname="w1")
    services.run_start(run_id=second.pk, attempt=1, hostname="w2")
    response = client.post(f"/api/graphs/{graph.pk}/runs/", launch_body(), format="json")
    assert response.status_code == 429
    assert response.json()["message"] == services.MSG_TOO_MANY_RUNNING.format(count=1, limit=1)


# --- websocket ---------------------------------------------------------------------------------------


def _card_communicator(card_id, user):
    comm = WebsocketCommunicator(URLRouter(websocket_urlpatterns), f"/ws/cards/{card_id}/")
    comm.scope["user"] = user
    return comm


@pytest.fixture
async def _close_consumer_connections():
    yield
    from channels.db import database_sync_to_async
    from django.db import connections

    await database_sync_to_async(connections.close_all)()


@pytest.mark.django_db(transaction=True)
async def test_the_card_websocket_sends_the_state_then_each_run_change_then_done(
        alice, bob, make_graph, client_for, enqueued, tiny_suite, _close_consumer_connections):
    graph = await sync_to_async(make_graph)(alice)
    card_id = (await sync_to_async(launch_card)(client_for(alice), graph)).json()["id"]
    for user in (bob, AnonymousUser()):
        connected, code = await _card_communicator(card_id, user).connect()
        assert not connected and code == CLOSE_FORBIDDEN
    comm = _card_communicator(card_id, alice)
    connected, _ = await comm.connect()
    assert connected
    state = await comm.receive_json_from(timeout=5)
    assert state["type"] == "card" and state["card"] == card_id and state["card_status"] == "queued"
    assert [e["status"] for e in state["entries"]] == ["queued", "queued"]
    runs = await sync_to_async(lambda: list(Run.objects.filter(card_id=card_id).order_by("id")))()
    await sync_to_async(services.run_start)(run_id=runs[0].pk, attempt=1, hostname="w1")
    started = await comm.receive_json_from(timeout=5)
    assert (started["type"], started["run"], started["status"], started["worker"], started["card_status"]) == (
        "entry", runs[0].pk, "running", "w1", "running")
    assert started["seq"] > state["seq"] and started["key"] == runs[0].card_key
    for run in runs:
        await sync_to_async(finish)(run, accuracy=1.0) if run is not runs[0] else await sync_to_async(services.run_finish)(
            run_id=run.pk, attempt=1, status="succeeded", result={"eval_accuracy": 1.0})
    messages = [await comm.receive_json_from(timeout=5) for _ in range(4)]
    assert [(m["type"], m.get("status")) for m in messages] == [
        ("entry", "succeeded"), ("entry", "running"), ("entry", "succeeded"), ("done", None)]
    assert [m["seq"] for m in messages] == sorted(m["seq"] for m in messages)
    assert messages[-1]["card_status"] == "succeeded" and messages[-1]["summary"]["score"] == 1.0
    assert messages[-1]["progress"]["done"] == 2
    await comm.disconnect()


@pytest.mark.django_db
def test_a_card_takes_its_users_turns_and_a_users_single_runs_go_before_their_card(alice, bob, make_graph, client_for,
                                                                                  enqueued, tiny_suite):
    card_id = launch_card(client_for(alice), make_graph(alice)).json()["id"]
    single = client_for(bob).post(f"/api/graphs/{make_graph(bob).pk}/runs/", launch_body(), format="json").json()
    card_runs = Run.objects.filter(card_id=card_id).order_by("id")

    def positions():
        return [client_for(alice).get(f"/api/runs/{run.pk}/").json()["queue_position"] for run in card_runs]

    # Alice queued first, so her card's first run goes first, then Bob's turn, then Alice's again.
    assert positions() == [1, 3] and single["queue_position"] == 2
    own = client_for(alice).post(f"/api/graphs/{make_graph(alice).pk}/runs/", launch_body(), format="json").json()
    assert own["queue_position"] == 1 and positions() == [3, 4]


def test_workers_take_one_message_at_a_time():
    """What keeps one worker from hoarding queue messages while others are idle."""
    from composer.celery_app import app, worker_argv

    argv = worker_argv()
    assert app.conf.worker_prefetch_multiplier == 1 and app.conf.task_acks_late
    assert argv[argv.index("--prefetch-multiplier") + 1] == "1" and argv[argv.index("-c") + 1] == "1"


@pytest.mark.django_db
def test_a_card_run_names_its_card(alice, make_graph, client_for, enqueued, tiny_suite):
    card_id = launch_card(client_for(alice), make_graph(alice)).json()["id"]
    run = Run.objects.filter(card_id=card_id).first()
    body = client_for(alice).get(f"/api/runs/{run.pk}/").json()
    assert (body["card"], body["card_key"]) == (card_id, run.card_key)


@pytest.mark.django_db
def test_deleting_a_graph_removes_its_finished_cards_and_waits_for_active_ones(alice, make_graph, client_for, enqueued,
                                                                              tiny_suite):
    graph = make_graph(alice)
    card_id = launch_card(client_for(alice), graph).json()["id"]
    assert client_for(alice).delete(f"/api/graphs/{graph.pk}/").status_code == 409  # its runs are queued
    for run in Run.objects.filter(card_id=card_id):
        finish(run)
    assert client_for(alice).delete(f"/api/graphs/{graph.pk}/").status_code == 204
    assert not ReportCard.objects.exists() and not Run.objects.exists()


# --- plan (preview before launch) -------------------------------------------------------------------


@pytest.mark.django_db
def test_plan_answers_the_scaled_size_runs_and_estimate_and_creates_nothing(alice, bob, make_graph, client_for,
                                                                           enqueued, tiny_suite):
    graph = make_graph(alice)
    response = client_for(alice).post(f"/api/graphs/{graph.pk}/report-cards/plan/", card_body(seeds=2), format="json")
    assert response.status_code == 200, response.json()
    plan = response.json()
    budget = card_body()["params"]
    assert abs(plan["params"] - budget) <= 0.03 * budget and plan["d_model"] > 0
    assert plan["runs"] == 2 * runs_per_seed_of_tiny_suite() and plan["estimate_seconds"] > 0 and plan["seeds"] == [0, 1]
    assert not ReportCard.objects.exists() and not Run.objects.exists() and enqueued == []
    # The same refusals as a launch, naming the field; a private graph stays 404 to others.
    bad = client_for(alice).post(f"/api/graphs/{graph.pk}/report-cards/plan/", card_body(suite="nope"), format="json")
    assert bad.status_code == 400 and "suite" in bad.json()["extra"]["fields"]
    graph.visibility = Visibility.PRIVATE
    graph.save()
    assert client_for(bob).post(f"/api/graphs/{graph.pk}/report-cards/plan/", card_body(), format="json").status_code == 404


def runs_per_seed_of_tiny_suite() -> int:
    from workers.report_card import SUITES

    return SUITES[TINY_SUITE].runs_per_seed()


@pytest.mark.django_db
def test_a_card_of_a_graph_made_private_hides_its_title_and_spec_from_its_launcher(alice, bob, make_graph, client_for,
                                                                                  enqueued, tiny_suite):
    graph = make_graph(bob, visibility=Visibility.PUBLIC, title="secret plan")
    card_id = launch_card(client_for(alice), graph).json()["id"]
    graph.visibility = Visibility.PRIVATE
    graph.save()
    detail = client_for(alice).get(f"/api/report-cards/{card_id}/").json()
    listed = client_for(alice).get("/api/report-cards/?mine=true").json()["results"]
    assert detail["graph_title"] is None and detail["spec"] is None
    assert [c["graph_title"] for c in listed if c["id"] == card_id] == [None]
    assert "secret plan" not in str(detail) + str(listed)
    # The owner still reads everything.
    assert client_for(bob).get(f"/api/report-cards/{card_id}/").json()["graph_title"] == "secret plan"
