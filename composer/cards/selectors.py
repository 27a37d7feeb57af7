"""Reads of report cards: visibility (a card is readable when its graph is), lists, progress, summary."""
from __future__ import annotations

from django.db.models import Count, F, Q, QuerySet

from composer.cards.models import ReportCard
from composer.graphs.selectors import graph_can_read
from composer.runs.models import FINISHED_STATUSES, Run, RunStatus
from composer.runs.selectors import get_readable_by_graph, listed_by_graph, run_can_read


def card_can_read(*, user, card: ReportCard) -> bool:
    return graph_can_read(user=user, graph=card.graph)


def card_get_readable(*, user, card_id) -> ReportCard:
    # As for runs: the launcher keeps their card when the graph becomes private (title and spec hidden).
    return get_readable_by_graph(ReportCard, user=user, pk=card_id, not_found="No such report card.",
                                 can_read=lambda card: run_can_read(user=user, run=card))


def card_list(*, user, graph_id=None, suite=None, mine=False, budget_kind=None, budget=None, status=None,
              order="-created_at") -> QuerySet[ReportCard]:
    """Cards on graphs listed for the user (their own and public ones) plus their own cards; the
    leaderboard is ``suite`` + ``budget`` ordered by ``-score``."""
    if mine:
        if user is None or not user.is_authenticated:
            return ReportCard.objects.none()
        visible = Q(user=user)
    else:
        visible = listed_by_graph(user=user)
    cards = ReportCard.objects.filter(visible).select_related("graph", "graph_version", "user")
    if graph_id is not None:
        cards = cards.filter(graph_id=graph_id)
    if suite:
        cards = cards.filter(suite=suite)
    if budget_kind:
        cards = cards.filter(budget_kind=budget_kind)
    if budget is not None:
        cards = cards.filter(budget_value=budget)
    if status:
        cards = cards.filter(status=status)
    if order == "-score":
        return cards.order_by(F("score").desc(nulls_last=True), "-created_at", "-id")
    return cards.order_by("-created_at", "-id")


def card_progress(*, card: ReportCard) -> dict:
    """How many of the card's runs are in each state; ``done`` counts the finished ones."""
    counts = {status.value: 0 for status in RunStatus}
    for row in Run.objects.filter(card=card).values("status").annotate(n=Count("id")):
        counts[row["status"]] = row["n"]
    total = sum(counts.values())
    done = sum(counts[s] for s in FINISHED_STATUSES)
    return {"total": total, "done": done, **counts}


def card_entries(*, card: ReportCard) -> list[dict]:
    """One row per plan entry with the state of its run (what the card's table shows)."""
    runs = {row["card_key"]: row for row in Run.objects.filter(card=card).values(
        "id", "card_key", "status", "worker_hostname", "final_metrics", "wall_seconds", "error_message")}
    rows = []
    for entry in card.plan.get("entries", []):
        run = runs.get(entry["key"], {})
        rows.append({
            "key": entry["key"], "task": entry["task"], "setting": entry["setting"], "seed": entry["seed"],
            "lr": entry["config"].get("lr"), "weight_decay": entry["config"].get("weight_decay"),
            "run": run.get("id"), "status": run.get("status"), "worker": run.get("worker_hostname") or "",
            "eval_accuracy": (run.get("final_metrics") or {}).get("eval_accuracy"),
            "wall_seconds": run.get("wall_seconds"), "error": run.get("error_message") or "",
        })
    return rows


def card_summary(*, card: ReportCard) -> dict:
    """``workers.report_card.summarise_card`` over the runs that succeeded so far, plus which
    entries failed (lost worker, diverged, error), were cancelled, or are still pending."""
    from workers.report_card import summarise_card

    statuses = dict(Run.objects.filter(card=card).values_list("card_key", "status"))
    results = dict(Run.objects.filter(card=card, status=RunStatus.SUCCEEDED).values_list("card_key", "final_metrics"))
    summary = summarise_card(card.plan, results)
    for name, wanted in (("failed", (RunStatus.FAILED,)), ("cancelled", (RunStatus.CANCELLED,)),
                         ("pending", (RunStatus.QUEUED, RunStatus.RUNNING))):
        summary[name] = sorted(key for key, status in statuses.items() if status in wanted)
    return summary
