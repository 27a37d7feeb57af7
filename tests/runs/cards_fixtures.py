"""Shared by the report-card tests: a test-only suite of two tiny ``copy`` settings (seconds on a
CPU) registered in ``workers.report_card.SUITES`` for the test, and the budget the tiny spec meets."""
from __future__ import annotations

import functools
from contextlib import contextmanager

import pytest

from tests.runs.conftest import TINY_SPEC

TINY_SUITE = "test-tiny"


def tiny_budget() -> int:
    """The tiny spec's own size at the card's budget vocabulary, so scaling keeps it as it is."""
    from blocks.spec import validate_spec
    from workers.report_card import BUDGET_VOCAB

    return validate_spec(TINY_SPEC, vocab_size=BUDGET_VOCAB).cost.params


@pytest.fixture
def tiny_suite(monkeypatch):
    def register(steps: int = 10, settings: int = 2, sweep=((3e-3, 0.0),)):
        from workers import report_card

        tasks = tuple(report_card.SuiteTask("copy", f"tokens={n}", {"num_tokens": n}, steps, 4)
                      for n in (4, 6, 8, 10, 12, 14)[:settings])
        suite = report_card.Suite(name=TINY_SUITE, title="Tiny (tests)", description="Test-only.", tasks=tasks,
                                  sweep=tuple(sweep), device="cpu", eval_batches=2)
        monkeypatch.setitem(report_card.SUITES, TINY_SUITE, suite)
        return suite

    register()
    return register


def card_body(**overrides) -> dict:
    body = {"suite": TINY_SUITE, "params": tiny_budget(), "seeds": 1}
    body.update(overrides)
    return body


@contextmanager
def runs_sent_to(redis_url: str, monkeypatch):
    """Queue messages sent by this process go to the broker at ``redis_url`` (a private
    redis-server) through the Celery app's own transport settings; the ``gpu`` queue is declared there."""
    from composer.celery_app import QUEUE, app

    with app.connection_for_write(redis_url) as connection:
        queue = app.amqp.queues[QUEUE]
        queue(connection.default_channel).declare()
        monkeypatch.setattr(app, "send_task", functools.partial(app.send_task, connection=connection))
        yield connection, queue
