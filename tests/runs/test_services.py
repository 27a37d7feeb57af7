"""Worker-side services: claiming a run once, heartbeats, the sweeper, seq reservation."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from composer.runs import services
from composer.runs.models import Run, RunEvent, RunStatus
from composer.runs.services import LaunchRequest

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_run(alice, make_graph, enqueued):
    request = LaunchRequest(task="copy", task_params={}, lr=3e-3, batch_size=4, steps=10, seed=0, max_seconds=60,
                            max_tokens=None)
    return services.run_launch(user=alice, graph=make_graph(alice), request=request)


def test_a_run_is_claimed_once_and_redeliveries_do_nothing(queued_run):
    run = services.run_start(run_id=queued_run.pk, attempt=1, hostname="w1")
    assert run is not None and run.status == RunStatus.RUNNING and run.worker_hostname == "w1"
    assert services.run_start(run_id=queued_run.pk, attempt=1, hostname="w2") is None  # live worker owns it
    assert services.run_start(run_id=queued_run.pk, attempt=2) is None  # not this attempt
    assert services.run_finish(run_id=queued_run.pk, attempt=1, status=RunStatus.SUCCEEDED, result={"steps": 10})
    assert services.run_start(run_id=queued_run.pk, attempt=1) is None  # finished: idempotent
    assert Run.objects.get(pk=queued_run.pk).final_metrics == {"steps": 10}


def test_redelivery_of_a_run_whose_worker_died_fails_it_as_lost(queued_run):
    services.run_start(run_id=queued_run.pk, attempt=1)
    Run.objects.filter(pk=queued_run.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    assert services.run_start(run_id=queued_run.pk, attempt=1) is None
    run = Run.objects.get(pk=queued_run.pk)
    assert run.status == RunStatus.FAILED and run.error_message.startswith("worker lost")


def test_sweeper_fails_only_runs_with_stale_heartbeats(queued_run, alice, make_graph, monkeypatch):
    services.run_start(run_id=queued_run.pk, attempt=1)
    beat = Run.objects.get(pk=queued_run.pk).heartbeat_at
    assert services.runs_sweep_stale(now=beat + timedelta(seconds=services.STALE_AFTER_SECONDS - 1)) == []
    assert services.runs_sweep_stale(now=beat + timedelta(seconds=services.STALE_AFTER_SECONDS + 1)) == [queued_run.pk]
    run = Run.objects.get(pk=queued_run.pk)
    assert run.status == RunStatus.FAILED
    assert run.error_message == services.MSG_WORKER_LOST.format(since=beat.isoformat())
    last_two = list(RunEvent.objects.filter(run=run).order_by("-seq")[:2])
    assert [e.type for e in last_two] == ["error", "status"] and last_two[0].payload["message"] == run.error_message
    # The lost worker, should it come back, can no longer record anything.
    assert services.run_heartbeat(run_id=run.pk, attempt=1).stop
    assert not services.run_finish(run_id=run.pk, attempt=1, status=RunStatus.SUCCEEDED)


def test_default_timings_fail_a_lost_run_within_a_minute():
    assert services.STALE_AFTER_SECONDS + services.SWEEP_INTERVAL_SECONDS <= 60
    assert services.HEARTBEAT_SECONDS * 3 <= services.STALE_AFTER_SECONDS


def test_seq_reservations_never_overlap(queued_run):
    last_a = services.run_reserve_seqs(run_id=queued_run.pk, count=500)
    sweeper_events = services.run_events_append(run_id=queued_run.pk, events=[{"type": "log", "message": "x"}])
    assert last_a == 501  # seq 1 is the "queued" status written at launch
    assert sweeper_events[0]["seq"] == 502


def test_event_store_is_idempotent_for_retried_batches(queued_run):
    batch = [{"type": "metrics", "run": queued_run.pk, "seq": 10, "step": 1, "split": "train", "loss": 1.0}]
    services.run_events_store(run_id=queued_run.pk, messages=batch)
    services.run_events_store(run_id=queued_run.pk, messages=batch)
    event = RunEvent.objects.get(run=queued_run, seq=10)
    assert (event.step, event.split, event.to_message()) == (1, "train", batch[0])


@pytest.mark.django_db(transaction=True)  # the stream's writer thread must see the run it writes for
def test_a_run_whose_loss_becomes_nan_ends_failed_and_says_why(alice, make_graph, monkeypatch, enqueued):
    from composer.runs.tasks import execute_run

    request = LaunchRequest(task="copy", task_params={}, lr=3e-3, batch_size=4, steps=50, seed=0, max_seconds=60,
                            max_tokens=None)
    queued = services.run_launch(user=alice, graph=make_graph(alice), request=request)
    # The loss turns NaN at the third training step, as it does when weights overflow.
    import workers.trainer

    real_loss, calls = workers.trainer._loss_and_correct, []

    def overflowing_loss(logits, y):
        loss, *rest = real_loss(logits, y)
        calls.append(1)
        return (loss * float("nan") if len(calls) >= 3 else loss, *rest)

    monkeypatch.setattr(workers.trainer, "_loss_and_correct", overflowing_loss)
    run = services.run_start(run_id=queued.pk, attempt=1)

    assert execute_run(run) == RunStatus.FAILED

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED and run.finished_at is not None
    assert run.error_message.startswith("training diverged: the loss became NaN or infinite")
    assert run.final_metrics["stopped"] == "diverged" and run.final_metrics["steps"] == 3
    assert "at step 3;" in run.error_message and run.final_metrics["final_train_loss"] is None
    events = list(RunEvent.objects.filter(run=run).order_by("seq"))
    # The NaN point itself is recorded (as null: JSON has no NaN), so the chart shows where it broke.
    losses = [m["loss"] for m in map(RunEvent.to_message, events) if m["type"] == "metrics" and m["split"] == "train"]
    assert losses[-1] is None and all(isinstance(loss, float) for loss in losses[:-1]) and len(losses) == 3
    assert [e.type for e in events[-2:]] == ["status", "error"]
    assert events[-1].payload["message"] == run.error_message
    assert "done" not in {e.type for e in events}
