"""Report cards on real processes: a private redis-server, two Celery workers started by
``worker_argv`` (as ``composer up`` starts them), daphne for the API and the card's websocket.
A card's runs spread over both workers and the card ends with its summary; a SIGKILLed worker
fails only its own run and the card names it."""
from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import signal
import time

import pytest
import websockets

from composer.cards.models import CardStatus, ReportCard
from composer.cards.services import CardRequest, card_launch
from composer.runs.models import Run, RunEvent, RunStatus
from tests.runs.cards_fixtures import TINY_SUITE, runs_sent_to, tiny_budget, tiny_suite  # noqa: F401 (fixture)
from tests.runs.test_integration import ORIGIN, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def launch(stack, user, graph, monkeypatch) -> ReportCard:
    """Launch in this process (the test-only suite lives here), sending the runs to the stack's broker."""
    with runs_sent_to(stack.redis.url, monkeypatch):
        card, created = card_launch(user=user, graph=graph, request=CardRequest(suite=TINY_SUITE, params=tiny_budget()))
    assert created
    return card


async def _card_messages(url: str, timeout: float) -> list[dict]:
    messages: list[dict] = []
    async with websockets.connect(url, origin=ORIGIN, open_timeout=30) as ws:
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(await asyncio.wait_for(ws.recv(), max(0.1, deadline - time.monotonic())))
            messages.append(message)
            if message["type"] == "done" or (message["type"] == "card" and message["card_status"] not in ("queued", "running")):
                return messages


def test_a_card_fans_out_over_two_workers_and_ends_with_its_summary(stack, alice, make_graph, tiny_suite, monkeypatch):
    tiny_suite(steps=30, settings=6)
    stack.start_worker("alpha")
    stack.start_worker("beta")
    started = time.monotonic()
    card = launch(stack, alice, make_graph(alice), monkeypatch)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        url = f"ws://127.0.0.1:{stack.http_port}/ws/cards/{card.pk}/?token={alice.token}"
        watching = pool.submit(lambda: asyncio.run(_card_messages(url, 120)))
        card = wait_until(lambda: ReportCard.objects.filter(pk=card.pk).exclude(status__in=["queued", "running"]).first(),
                          timeout=120, stack=stack)
        elapsed = time.monotonic() - started
        messages = watching.result(timeout=30)

    assert card.status == CardStatus.SUCCEEDED, stack.diagnose()
    hosts = {host.split("-")[0] for host in Run.objects.filter(card=card).values_list("worker_hostname", flat=True)}
    assert hosts == {"alpha", "beta"}  # both workers took runs
    assert card.summary["complete"] and len(card.summary["rows"]) == 6 and card.score is not None
    assert elapsed < 60
    # The live view: the state on connect, then a message per run change, the last one "done".
    assert messages[0]["type"] == "card" and messages[-1]["card_status"] == "succeeded"
    assert [m["seq"] for m in messages] == sorted(m["seq"] for m in messages)
    status, detail = stack.request("GET", f"/api/report-cards/{card.pk}/", token=alice.token)
    assert status == 200 and detail["status"] == "succeeded" and detail["progress"]["succeeded"] == 6
    assert detail["summary"] == card.summary and {e["worker"].split("-")[0] for e in detail["entries"]} == {"alpha", "beta"}


def test_a_killed_worker_fails_only_its_own_runs_and_the_card_says_which(stack, alice, make_graph, tiny_suite, monkeypatch):
    tiny_suite(steps=3000, settings=3)
    doomed = stack.start_worker("doomed")
    stack.start_worker("healthy")  # its housekeeping thread fails the doomed worker's run
    card = launch(stack, alice, make_graph(alice), monkeypatch)

    def doomed_run_training():
        run = Run.objects.filter(card=card, status=RunStatus.RUNNING, worker_hostname__startswith="doomed").first()
        return run if run and RunEvent.objects.filter(run=run, type="metrics").count() >= 5 else None

    victim = wait_until(doomed_run_training, timeout=90, stack=stack)
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait()

    finished = wait_until(lambda: ReportCard.objects.filter(pk=card.pk).exclude(status__in=["queued", "running"]).first(),
                          timeout=150, stack=stack)
    runs = {run.card_key: run for run in Run.objects.filter(card=card)}
    failed = sorted(key for key, run in runs.items() if run.status == RunStatus.FAILED)
    assert failed == [victim.card_key] and runs[victim.card_key].error_message.startswith("worker lost")
    assert all(run.status == RunStatus.SUCCEEDED and run.worker_hostname.startswith("healthy")
               for key, run in runs.items() if key != victim.card_key)
    assert finished.status == CardStatus.PARTIAL
    assert finished.summary["failed"] == [victim.card_key] and finished.summary["score"] is not None
    status, detail = stack.request("GET", f"/api/report-cards/{card.pk}/", token=alice.token)
    assert status == 200 and detail["status"] == "partial" and detail["summary"]["failed"] == [victim.card_key]
