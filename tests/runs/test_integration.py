"""End to end with real processes: private redis-server, Celery worker (``worker_argv``), daphne,
and a ``websockets`` client. Launch -> live metrics -> done; cancel; websocket permissions;
reconnect with ``since``; SIGKILLed worker; Redis restart mid-run."""
from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import pytest
import websockets

from composer.graphs.models import Visibility
from composer.runs.models import Run, RunEvent, RunStatus
from tests.runs.conftest import launch_body

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ORIGIN = "http://127.0.0.1"


async def _collect(url: str, *, stop_after: int | None = None, timeout: float = 120, on_message=None) -> list[dict]:
    """Messages from the websocket until done/error (or ``stop_after`` messages)."""
    messages: list[dict] = []
    async with websockets.connect(url, origin=ORIGIN, open_timeout=30) as ws:
        deadline = time.monotonic() + timeout
        while True:
            raw = await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic()))
            message = json.loads(raw)
            messages.append(message)
            if on_message is not None:
                await on_message(message)
            if message["type"] in ("done", "error") or (stop_after and len(messages) >= stop_after):
                return messages


def collect(url: str, **kwargs) -> list[dict]:
    return asyncio.run(_collect(url, **kwargs))


def recorded(run_id: int) -> list[dict]:
    return [event.to_message() for event in RunEvent.objects.filter(run_id=run_id).order_by("seq")]


def wait_until(predicate, timeout: float, interval: float = 0.2, *, stack=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout}s\n" + (stack.diagnose() if stack else ""))


def launch(stack, user, graph, **overrides) -> dict:
    status, body = stack.request("POST", f"/api/graphs/{graph.pk}/runs/", token=user.token, body=launch_body(**overrides))
    assert status == 201, body
    return body


def train_steps(messages: list[dict]) -> list[int]:
    return [m["step"] for m in messages if m["type"] == "metrics" and m["split"] == "train"]


def test_launch_streams_metrics_over_the_websocket_then_done(stack, alice, make_graph, settings):
    stack.start_worker()
    settings.REDIS_URL = stack.redis.url
    from composer.celery_app import live_workers

    (worker,) = live_workers()
    assert worker["device"] == "cpu" and worker["queues"] == ["gpu"] and worker["pid"] > 0

    run = launch(stack, alice, make_graph(alice), steps=12)
    messages = collect(stack.ws_url(run["id"], token=alice.token))

    assert [m["seq"] for m in messages] == list(range(1, len(messages) + 1))
    assert all(m["run"] == run["id"] for m in messages)
    assert messages[0] == {"type": "status", "run": run["id"], "seq": 1, "status": "queued"}
    running = next(m for m in messages if m["type"] == "status" and m["status"] == "running")
    assert running["device"] == "cpu" and running["seed"] == 1
    assert train_steps(messages) == list(range(1, 13))
    assert any(m["type"] == "metrics" and m["split"] == "eval" for m in messages)
    assert messages[-1]["type"] == "done" and messages[-1]["status"] == "succeeded"
    assert messages == recorded(run["id"])  # the live view and the record agree exactly

    done = Run.objects.get(pk=run["id"])
    assert done.status == RunStatus.SUCCEEDED and done.finished_at and done.started_at
    assert done.device == "cpu" and done.device_name and "torch" in done.versions
    assert done.seed == 1 and done.wall_seconds > 0 and done.final_metrics["steps"] == 12
    assert Path(done.checkpoint_path).exists()
    status, detail = stack.request("GET", f"/api/runs/{run['id']}/", token=alice.token)
    assert status == 200 and detail["metrics"]["last_seq"] == len(messages)


def test_cancel_stops_a_running_run_within_a_step_and_a_queued_one_without_starting(stack, alice, make_graph):
    stack.start_worker()
    graph = make_graph(alice)
    first = launch(stack, alice, graph, steps=5000, max_seconds=120)
    second = launch(stack, alice, graph, steps=10)
    assert second["queue_position"] >= 1
    cancel_sent: dict = {}

    async def cancel_once_training(message):
        if message["type"] == "metrics" and message["step"] >= 3 and not cancel_sent:
            status, body = await asyncio.to_thread(stack.request, "POST", f"/api/runs/{second['id']}/cancel/", token=alice.token)
            assert (status, body["status"]) == (200, "cancelled")
            cancel_sent["step"], cancel_sent["at"] = message["step"], time.monotonic()
            status, body = await asyncio.to_thread(stack.request, "POST", f"/api/runs/{first['id']}/cancel/", token=alice.token)
            assert status == 200 and body["cancel_requested"]

    messages = collect(stack.ws_url(first["id"], token=alice.token), on_message=cancel_once_training)
    assert messages[-1]["type"] == "done" and messages[-1]["status"] == "cancelled"
    assert time.monotonic() - cancel_sent["at"] < 10
    cancelled = Run.objects.get(pk=first["id"])
    assert cancelled.status == RunStatus.CANCELLED and cancelled.final_metrics["stopped"] == "cancelled"
    assert cancelled.final_metrics["steps"] < 5000

    never_started = Run.objects.get(pk=second["id"])
    assert never_started.status == RunStatus.CANCELLED and never_started.started_at is None
    # The worker takes the queued run's task after the first one and leaves it alone.
    time.sleep(2)
    assert [(m["type"], m.get("status")) for m in recorded(second["id"])] == [
        ("status", "queued"), ("status", "cancelled"), ("done", "cancelled")]


def test_websocket_refuses_another_users_private_run(stack, alice, bob, make_graph):
    private = launch(stack, bob, make_graph(bob, visibility=Visibility.PRIVATE), steps=5)
    for url in (stack.ws_url(private["id"], token=alice.token), stack.ws_url(private["id"]),
                stack.ws_url(private["id"], token="not-a-token")):
        with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
            collect(url, timeout=20)
        assert refused.value.response.status_code == 403
    # Its owner, and anyone once the graph is public, may watch it (no worker: it stays queued).
    assert collect(stack.ws_url(private["id"], token=bob.token), stop_after=1)[0]["status"] == "queued"
    public = launch(stack, bob, make_graph(bob, visibility=Visibility.PUBLIC), steps=5)
    assert collect(stack.ws_url(public["id"], token=alice.token), stop_after=1)[0]["seq"] == 1


def test_reconnect_with_since_gives_the_full_curve_without_gap_or_duplicate(stack, alice, make_graph):
    stack.start_worker()
    run = launch(stack, alice, make_graph(alice), steps=40)
    head = collect(stack.ws_url(run["id"], token=alice.token), stop_after=8)
    time.sleep(1.0)  # miss some live messages while away
    tail = collect(stack.ws_url(run["id"], token=alice.token, since=head[-1]["seq"]))
    seen = head + tail
    assert [m["seq"] for m in seen] == list(range(1, len(seen) + 1))
    assert train_steps(seen) == list(range(1, 41))
    assert seen == recorded(run["id"])


def test_a_sigkilled_worker_fails_its_run_within_60s_and_keeps_its_metrics(stack, alice, make_graph):
    worker = stack.start_worker("doomed")
    run = launch(stack, alice, make_graph(alice), steps=5000, max_seconds=300)

    def train_points():
        return RunEvent.objects.filter(run_id=run["id"], type="metrics", split="train").count()

    wait_until(lambda: train_points() >= 5, timeout=90, stack=stack)
    # Its housekeeping thread is the sweeper (composer up starts a worker again when one dies).
    stack.start_worker("survivor")
    os.killpg(worker.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    worker.wait()
    stored_before = train_points()

    failed = wait_until(lambda: Run.objects.filter(pk=run["id"], status=RunStatus.FAILED).first(), timeout=60, stack=stack)
    assert time.monotonic() - killed_at < 60
    assert failed.error_message.startswith("worker lost")
    assert train_points() == stored_before >= 5
    steps = list(RunEvent.objects.filter(run_id=run["id"], type="metrics", split="train").order_by("seq").values_list("step", flat=True))
    assert steps == list(range(1, len(steps) + 1))
    last = recorded(run["id"])[-1]
    assert last["type"] == "error" and last["message"] == failed.error_message


def test_a_redis_restart_mid_run_still_finishes_with_the_full_curve(stack, alice, make_graph):
    stack.start_worker()
    # A time budget, not a step count, keeps the run going through the outage however fast steps are.
    run = launch(stack, alice, make_graph(alice), steps=20_000, max_seconds=8)
    wait_until(lambda: RunEvent.objects.filter(run_id=run["id"], type="metrics").exists(), timeout=90, stack=stack)
    stack.redis.restart(down_seconds=2.0)
    assert Run.objects.get(pk=run["id"]).status == RunStatus.RUNNING, "the run ended before the outage"

    finished = wait_until(lambda: Run.objects.filter(pk=run["id"], status__in=["succeeded", "failed"]).first(), timeout=150, stack=stack)
    assert finished.status == RunStatus.SUCCEEDED, finished.error_message
    events = recorded(run["id"])
    assert [m["seq"] for m in events] == list(range(1, len(events) + 1))
    assert finished.final_metrics["stopped"] == "time"
    assert train_steps(events) == list(range(1, finished.final_metrics["steps"] + 1))
    # The websocket serves the whole record after the outage too.
    assert collect(stack.ws_url(run["id"], token=alice.token)) == events
