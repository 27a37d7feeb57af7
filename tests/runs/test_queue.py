"""The runs queue without processes: the fair-share start order across users, the per-user running
limit at start, a report card as one job, and the recovery of queue messages the broker lost."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from composer.runs import services
from composer.runs.models import Run, RunStatus
from composer.runs.selectors import run_queue_position
from composer.runs.services import LaunchRequest
from tests.runs.cards_fixtures import TINY_SUITE, tiny_budget, tiny_suite  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

REQUEST = LaunchRequest(task="copy", task_params={}, lr=3e-3, batch_size=4, steps=10, seed=0, max_seconds=60,
                        max_tokens=None)


def queue_runs(user, graph, count: int) -> list[int]:
    return [services.run_launch(user=user, graph=graph, request=REQUEST).pk for _ in range(count)]


def start_and_finish_all() -> list[int]:
    """What one worker does: start the next run, train it (here: end it at once), again until idle."""
    order = []
    while (run := services.run_claim_next(hostname="w1")) is not None:
        order.append(run.pk)
        assert services.run_finish(run_id=run.pk, attempt=run.attempt, status=RunStatus.SUCCEEDED)
    return order


def test_users_take_turns_however_many_runs_each_queued(make_user, make_graph, enqueued):
    alice, bob, carol = make_user("alice"), make_user("bob"), make_user("carol")
    a = queue_runs(alice, make_graph(alice), 4)  # one user floods the queue first
    b = queue_runs(bob, make_graph(bob), 3)
    c = queue_runs(carol, make_graph(carol), 1)
    expected = [a[0], b[0], c[0], a[1], b[1], a[2], b[2], a[3]]
    assert [run_queue_position(run=Run.objects.get(pk=pk)) for pk in expected] == list(range(1, 9))
    assert start_and_finish_all() == expected


def test_a_new_user_waits_for_at_most_one_run_of_a_user_who_is_training(make_user, make_graph, enqueued):
    alice, bob = make_user("alice"), make_user("bob")
    a = queue_runs(alice, make_graph(alice), 4)
    first = services.run_claim_next(hostname="w1")
    assert first.pk == a[0]
    b = queue_runs(bob, make_graph(bob), 1)  # bob arrives while alice's first run trains
    assert run_queue_position(run=Run.objects.get(pk=b[0])) == 1
    services.run_finish(run_id=first.pk, attempt=1, status=RunStatus.SUCCEEDED)
    assert start_and_finish_all() == [b[0], *a[1:]]


def test_the_least_recently_served_user_goes_first(make_user, make_graph, enqueued):
    alice, bob = make_user("alice"), make_user("bob")
    queue_runs(bob, make_graph(bob), 1)
    assert start_and_finish_all()  # bob trained a moment ago
    a = queue_runs(alice, make_graph(alice), 1)
    b = queue_runs(bob, make_graph(bob), 1)
    Run.objects.filter(user=alice).exclude(pk__in=a).update(started_at=timezone.now() - timedelta(days=1))
    assert start_and_finish_all() == [a[0], b[0]]


def test_a_user_at_the_running_limit_is_skipped_until_a_run_ends(make_user, make_graph, enqueued, settings):
    settings.COMPOSER_RUN_LIMITS = {"max_running_per_user": 1}
    alice, bob = make_user("alice"), make_user("bob")
    a = queue_runs(alice, make_graph(alice), 2)
    first = services.run_claim_next(hostname="w1")
    assert first.pk == a[0]
    assert services.run_claim_next(hostname="w2") is None  # alice's second run waits for her first
    b = queue_runs(bob, make_graph(bob), 1)
    assert services.run_claim_next(hostname="w2").pk == b[0]  # another user's run goes past it
    services.run_finish(run_id=first.pk, attempt=1, status=RunStatus.SUCCEEDED)
    assert services.run_claim_next(hostname="w1").pk == a[1]


def test_a_running_card_is_one_job_and_may_take_every_idle_worker(alice, make_graph, enqueued, tiny_suite, settings):
    from composer.cards.services import CardRequest, card_launch

    settings.COMPOSER_RUN_LIMITS = {"max_running_per_user": 1}
    tiny_suite(settings=3)
    card, _ = card_launch(user=alice, graph=make_graph(alice), request=CardRequest(suite=TINY_SUITE, params=tiny_budget()))
    started = [services.run_claim_next(hostname=f"w{i}") for i in range(4)]
    assert [run.card_id for run in started[:3]] == [card.pk] * 3 and started[3] is None


def test_lost_queue_messages_are_sent_again_after_the_grace_period(alice, make_graph, enqueued, monkeypatch, settings):
    settings.COMPOSER_RUN_LIMITS = {"max_running_per_user": 3}
    waiting = {"count": 0}
    monkeypatch.setattr(services, "waiting_messages", lambda: waiting["count"])
    queue_runs(alice, make_graph(alice), 3)
    now = timezone.now()
    assert services.runs_requeue_lost(now=now) == 0 and enqueued == []  # just queued: their messages may be on the way
    later = now + timedelta(seconds=services.REQUEUE_GRACE_SECONDS + 1)
    waiting["count"] = 3
    assert services.runs_requeue_lost(now=later) == 0 and enqueued == []  # the broker has them all
    waiting["count"] = 1  # e.g. Redis restarted without its data after one was sent again
    assert services.runs_requeue_lost(now=later) == 2 and enqueued == [2]
    # Spare messages start nothing twice: three claims start three runs, the fourth none.
    assert len({services.run_claim_next().pk for _ in range(3)}) == 3 and services.run_claim_next() is None


def test_a_launch_while_the_broker_is_down_stays_queued_for_the_housekeeping(alice, make_graph, monkeypatch,
                                                                            django_capture_on_commit_callbacks):
    def broker_down(count):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(services, "send_start_messages", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        run_id = queue_runs(alice, make_graph(alice), 1)[0]
    assert Run.objects.get(pk=run_id).status == RunStatus.QUEUED
