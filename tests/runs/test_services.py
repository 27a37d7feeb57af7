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
def queued_run(alice, make_graph, monkeypatch):
    monkeypatch.setattr("workers.jobs.enqueue_train_run", lambda **kwargs: "task")
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
