"""The runs queue on real processes (a private redis-server with its append-only file, a Celery
worker from ``worker_argv``, daphne): users take turns on one worker, and queued runs survive a
Redis restart, with or without its data, every one training exactly once."""
from __future__ import annotations

import time

import pytest
import redis

from composer.celery_app import QUEUE
from composer.runs.models import Run, RunEvent, RunStatus
from tests.runs.test_integration import launch, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def all_finished(run_ids: list[int]) -> bool:
    return not Run.objects.filter(pk__in=run_ids).exclude(status__in=[RunStatus.SUCCEEDED, RunStatus.FAILED,
                                                                     RunStatus.CANCELLED]).exists()


def times_started(run_id: int) -> int:
    return sum(1 for payload in RunEvent.objects.filter(run_id=run_id, type="status").values_list("payload", flat=True)
               if payload.get("status") == "running")


def test_three_users_take_turns_on_one_worker(stack, make_user, make_graph):
    alice, bob, carol = (make_user(name) for name in ("alice", "bob", "carol"))
    stack.start_worker()
    # Alice fills the queue first: one run that trains for a few seconds, three more behind it.
    a = [launch(stack, alice, make_graph(alice), steps=20_000, max_seconds=4)["id"]]
    a += [launch(stack, alice, make_graph(alice), steps=10)["id"] for _ in range(3)]
    wait_until(lambda: Run.objects.filter(pk=a[0], status=RunStatus.RUNNING).exists(), timeout=90, stack=stack)
    # Then Bob queues three and Carol one while Alice's first run trains.
    b = [launch(stack, bob, make_graph(bob), steps=10)["id"] for _ in range(3)]
    c = [launch(stack, carol, make_graph(carol), steps=10)["id"]]
    assert Run.objects.get(pk=a[0]).status == RunStatus.RUNNING, "Alice's first run ended before the others queued"

    wait_until(lambda: all_finished(a + b + c), timeout=240, stack=stack)
    runs = list(Run.objects.filter(pk__in=a + b + c).order_by("started_at"))
    assert {run.status for run in runs} == {RunStatus.SUCCEEDED}, stack.diagnose()
    # Round-robin: Carol's run starts after one run of Alice's and one of Bob's, not after Alice's four.
    assert [run.pk for run in runs] == [a[0], b[0], c[0], a[1], b[1], a[2], b[2], a[3]]
    assert all(times_started(run.pk) == 1 for run in runs)


def test_queued_runs_survive_a_redis_restart_and_every_one_finishes(stack, make_user, make_graph):
    users = [make_user(name) for name in ("alice", "bob")]
    run_ids = [launch(stack, user, make_graph(user), steps=10)["id"] for user in users for _ in range(2)]
    broker = redis.Redis.from_url(stack.redis.url)
    assert broker.llen(QUEUE) == 4  # no worker yet: one message per queued run

    stack.redis.restart(down_seconds=0.5)
    assert broker.llen(QUEUE) == 4, "the append-only file should keep the queue across a restart"
    assert (stack.redis.workdir / "appendonly.aof").exists()

    stack.redis.restart(down_seconds=0.5, keep_data=False)  # a Redis that lost its data
    assert broker.llen(QUEUE) == 0
    time.sleep(2.5)  # past the requeue grace period (2 s in the stack's environment)
    stack.start_worker()  # its housekeeping, at start, finds four queued runs and no message

    wait_until(lambda: all_finished(run_ids), timeout=180, stack=stack)
    runs = Run.objects.filter(pk__in=run_ids)
    assert {run.status for run in runs} == {RunStatus.SUCCEEDED}, stack.diagnose()
    assert all(times_started(pk) == 1 for pk in run_ids)  # recovered, and none trained twice
