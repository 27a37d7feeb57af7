"""Writes of report cards: launch, cancel, and the card following its runs.

Launch plans the card (``workers.report_card.plan_card``: unknown suite, unreachable budget, a
task refusing a block -> 400 naming the field), checks every entry against the per-run limits
as a single run would be, then creates the card and one queued ``Run`` per entry in ONE
transaction; the runs are enqueued on commit, so a refusal leaves nothing behind.

Fan-out and fairness: every entry is an ordinary queued run, each with its queue message, so every
idle worker may take one (workers take one message at a time: prefetch 1 + late acks). Which run a
worker starts is the runs queue's fair-share rule (``composer.runs.selectors.runs_fair_queue``): a
card's runs are its user's runs, after that user's single runs, so a card takes its user's turns
and never blocks other users for its whole length. Per-user limits count a card as one job: at
launch (``composer.runs.services.check_user_limits``) and at start (a running card may take more
workers; ``services.run_claim_next``); each run keeps the per-run limits.

The card follows its runs (``card_run_changed``, called by the runs services inside the
transaction of every child's status change: start, finish, failure, lost worker, cancel): it is
``running`` from its first start; when its last run ends its summary is written and its status
becomes succeeded / partial / failed / cancelled. Each change is announced on the card's
Channels group (``card.<id>``) with an increasing ``seq``.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.db import transaction
from django.utils import timezone

from composer.cards.models import CARD_ACTIVE_STATUSES, CardStatus, ReportCard, card_group_name
from composer.cards.selectors import card_progress, card_summary
from composer.runs.limits import run_limits
from composer.runs.models import ACTIVE_STATUSES, Run, RunStatus
from composer.runs.services import (
    LaunchRequest,
    RunError,
    check_run_request,
    check_user_limits,
    graph_version_to_train,
    run_cancel,
    run_create_queued,
)

logger = logging.getLogger(__name__)

MSG_CARD_FINISHED = "The report card has already finished ({status}); there is nothing to cancel."
MSG_NOT_OWNER = "Only the user who launched a report card may cancel it."
MSG_ENTRY_REFUSED = "Entry {key} of the card: {message}"


@dataclass(frozen=True)
class CardRequest:
    suite: str
    params: int | None = None
    state: int | None = None
    seeds: int = 1
    version: int | None = None


def _plan(spec: dict, request: CardRequest):
    from workers.report_card import CardInvalid, plan_card

    try:
        return plan_card(spec, suite=request.suite, params=request.params, state=request.state, seeds=request.seeds)
    except CardInvalid as invalid:
        errors = invalid.errors or [{"field": "body", "message": str(invalid)}]
        fields: dict[str, list[str]] = {}
        for error in errors:
            fields.setdefault(error["field"], []).append(error["message"])
        first = errors[0]
        raise RunError(f"{first['field']}: {first['message']}", {"field": first["field"], "fields": fields, "errors": errors})


def card_reusable(*, user, content_hash: str) -> ReportCard | None:
    """An identical card not to train again: a succeeded one the user may read, else the user's own
    one still in progress (a second click must not launch the same card twice)."""
    from composer.graphs.selectors import graph_readable_queryset

    same = ReportCard.objects.filter(content_hash=content_hash)
    done = same.filter(status=CardStatus.SUCCEEDED, graph__in=graph_readable_queryset(user=user).values("pk"))
    return (done.order_by("-finished_at", "-id").first()
            or same.filter(user=user, status__in=CARD_ACTIVE_STATUSES).order_by("-id").first())


def card_preview(*, graph, request: CardRequest) -> dict:
    """What launching would train, without creating anything: the scaled size, the number of runs
    and the server's wall-time estimate (the editor shows it before launch), or the same RunError."""
    version = graph_version_to_train(graph, request.version)
    plan = _plan(version.spec, request)
    return {"suite": plan.suite, "budget": plan.budget, "seeds": plan.seeds, "version": version.number,
            "params": plan.params, "state_bytes": plan.state_bytes, "d_model": plan.spec["model"]["d_model"],
            "runs": len(plan.entries), "estimate_seconds": plan.estimate_seconds, "notes": plan.notes}


@transaction.atomic
def card_launch(*, user, graph, request: CardRequest) -> tuple[ReportCard, bool]:
    """The card of the graph's latest (or given) version: (card, True) when created with its runs,
    (an identical existing card, False) when reused."""
    from workers.report_card import card_hash

    version = graph_version_to_train(graph, request.version)
    plan = _plan(version.spec, request)
    content_hash = card_hash(version.spec, plan.suite, plan.budget, plan.seeds)
    reused = card_reusable(user=user, content_hash=content_hash)
    if reused is not None:
        return reused, False

    max_seconds = run_limits().max_seconds  # a card run's time budget is the per-run limit
    costs: dict[int, dict] = {}
    checked = []
    for entry in plan.entries:
        config = entry.config
        launch = LaunchRequest(task=entry.task, task_params=entry.task_params, lr=config["lr"],
                               batch_size=config["batch_size"], steps=config["steps"], seed=entry.seed,
                               max_seconds=max_seconds, max_tokens=None)
        try:
            task, task_params, cost = check_run_request(plan.spec, launch, costs=costs)
        except RunError as error:
            raise RunError(MSG_ENTRY_REFUSED.format(key=entry.key, message=error.message),
                           {**error.extra, "entry": entry.key}, status_code=error.status_code)
        checked.append((entry, task.name, task_params, cost))
    check_user_limits(user)

    plan_json = plan.to_json()
    card = ReportCard.objects.create(
        graph=graph, graph_version=version, user=user, suite=plan.suite, budget_kind=plan.budget["kind"],
        budget_value=plan.budget["value"], seeds=len(plan.seeds), plan=plan_json, content_hash=content_hash,
    )
    for entry, task_name, task_params, cost in checked:
        run_create_queued(
            graph=graph, graph_version=version, user=user, spec=plan_json["spec"], task=task_name,
            task_params=task_params, seed=entry.seed, cost=cost, hyper={**entry.config, "seed": entry.seed},
            budget={"max_seconds": max_seconds, "max_tokens": None}, card=card, card_key=entry.key,
        )
    return card, True


def card_cancel(*, user, card: ReportCard) -> ReportCard:
    """Cancel every queued or running run of the card; the card ends ``cancelled`` when the last
    of them has stopped (queued ones at once, running ones within a step)."""
    if not (user and user.is_authenticated and card.user_id == user.pk):
        raise RunError(MSG_NOT_OWNER, status_code=403)
    card.refresh_from_db()
    if card.is_finished:
        if card.status == CardStatus.CANCELLED:
            return card
        raise RunError(MSG_CARD_FINISHED.format(status=card.status), {"status": card.status}, status_code=409)
    # Flag first (its own short transaction), then cancel run by run: each run's change locks the
    # run and then the card, the one lock order used everywhere.
    ReportCard.objects.filter(pk=card.pk).update(cancel_requested=True)
    for run in Run.objects.filter(card=card, status__in=ACTIVE_STATUSES).order_by("id"):
        try:
            run_cancel(user=user, run=run)
        except RunError:  # it finished meanwhile
            pass
    card.refresh_from_db()
    return card


def final_status(card: ReportCard, progress: dict) -> str:
    """The status a card ends in once none of its runs is left to run (shared with the reference-card loader)."""
    if card.cancel_requested:
        return CardStatus.CANCELLED
    if progress[RunStatus.SUCCEEDED] == progress["total"]:
        return CardStatus.SUCCEEDED
    return CardStatus.PARTIAL if progress[RunStatus.SUCCEEDED] else CardStatus.FAILED


def card_run_changed(*, card_id: int, run_id: int) -> None:
    """Follow one child run's status change (called inside that change's transaction)."""
    with transaction.atomic():
        card = ReportCard.objects.select_for_update().filter(pk=card_id).first()
        if card is None or card.is_finished:
            return
        run = Run.objects.filter(pk=run_id).values("card_key", "status", "worker_hostname", "final_metrics",
                                                   "error_message", "started_at").get()
        progress = card_progress(card=card)
        now = timezone.now()
        if card.started_at is None and run["started_at"] is not None:
            card.started_at = now
        messages = [{
            "type": "entry", "key": run["card_key"], "run": run_id, "status": run["status"],
            "worker": run["worker_hostname"], "eval_accuracy": (run["final_metrics"] or {}).get("eval_accuracy"),
            "error": run["error_message"],
        }]
        if progress["done"] == progress["total"]:
            card.summary = card_summary(card=card)
            card.score = card.summary.get("score")
            card.status, card.finished_at = final_status(card, progress), now
            messages.append({"type": "done", "summary": card.summary})
        else:
            card.status = CardStatus.RUNNING if card.started_at else CardStatus.QUEUED
        for message in messages:
            card.seq += 1
            message.update(card=card.pk, seq=card.seq, card_status=card.status, progress=progress)
        card.save(update_fields=["started_at", "summary", "score", "status", "finished_at", "seq"])
        transaction.on_commit(lambda: card_publish(card_id, messages))


def card_event(message: dict) -> dict:
    """The Channels event that carries one card message to its group."""
    return {"type": "card.event", "message": message}


def card_publish(card_id: int, messages: list[dict]) -> None:
    """Best-effort live publish; a client that missed a message gets the state on reconnect."""
    from channels.layers import get_channel_layer

    try:
        layer = get_channel_layer()
        for message in messages:
            async_to_sync(layer.group_send)(card_group_name(card_id), card_event(message))
    except Exception:
        logger.warning("live publish of report card %s failed", card_id, exc_info=True)
