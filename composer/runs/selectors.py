"""Reads of runs: visibility (a run is readable when its graph is), lists, the fair queue order,
events, summaries, compare."""
from __future__ import annotations

from itertools import zip_longest

from django.db.models import Max, Q, QuerySet
from django.http import Http404

from composer.graphs.selectors import graph_can_read, graph_list_readable
from composer.runs.models import EventType, Run, RunEvent, RunStatus

MAX_COMPARE_RUNS = 10
MAX_EVENTS_PER_PAGE = 5000


def _launched_by(user, run: Run) -> bool:
    return user is not None and user.is_authenticated and run.user_id == user.pk


def run_can_read(*, user, run: Run) -> bool:
    """Whoever may read the run's graph, and the user who launched the run (their results stay
    theirs when the graph later becomes private; its title and spec are then hidden from them,
    see ``composer.runs.apis``), also once the graph is deleted."""
    return _launched_by(user, run) or graph_readable(user=user, run=run)


def graph_readable(*, user, run) -> bool:
    """Whether the user may read the graph of a run (or a report card); False once it is deleted."""
    return run.graph is not None and graph_can_read(user=user, graph=run.graph)


def get_readable_by_graph(model, *, user, pk, not_found: str, can_read=None):
    """The ``model`` row (a run, a report card: anything with graph, graph_version and user) if the
    user may read its graph (or ``can_read(row)`` says so); Http404 otherwise (existence is not
    revealed)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404(not_found)
    row = model.objects.select_related("graph", "graph_version", "user").filter(pk=pk).first()
    if row is None or not (can_read(row) if can_read else graph_can_read(user=user, graph=row.graph)):
        raise Http404(not_found)
    return row


def run_get_readable(*, user, run_id) -> Run:
    return get_readable_by_graph(Run, user=user, pk=run_id, not_found="No such run.",
                                 can_read=lambda run: run_can_read(user=user, run=run))


def listed_by_graph(*, user) -> Q:
    """Rows (runs, report cards) a user sees in lists: on graphs listed for them (their own and
    public ones), plus their own."""
    visible = Q(graph__in=graph_list_readable(user=user).values("pk"))
    if user is not None and user.is_authenticated:
        visible |= Q(user=user)
    return visible


def run_list(*, user, graph_id=None, user_id=None, task=None, status=None) -> QuerySet[Run]:
    """Runs the user may see in a list: on graphs listed for them (their own and public ones),
    plus their own runs; filtered by graph, launching user, task and status."""
    runs = Run.objects.filter(listed_by_graph(user=user)).select_related("graph", "graph_version", "user")
    if graph_id is not None:
        runs = runs.filter(graph_id=graph_id)
    if user_id is not None:
        runs = runs.filter(user_id=user_id)
    if task:
        runs = runs.filter(task=task)
    if status:
        runs = runs.filter(status=status)
    return runs.order_by("-created_at", "-id")


def runs_fair_queue() -> list[Run]:
    """The queued runs in the order workers start them: users take turns (round-robin), the user
    served least recently first.

    Each user's own queue: their single runs, then their report cards' runs, oldest first (a card
    is one job of its user, so it takes its user's turns and never more). The user whose last run
    started longest ago goes first; one who never trained before everyone who did; ties go to the
    user with the older queued run. Round k then takes every user's k-th run, so a run waits for at
    most one run of each other user who has runs queued, however many they queued. Starting a run
    makes its user the most recently served, which is what keeps the turns going from one start to
    the next (``services.run_claim_next`` takes the first run here that its user may start).
    """
    queued = sorted(Run.objects.filter(status=RunStatus.QUEUED).only("pk", "user_id", "card_id"),
                    key=lambda run: (run.card_id is not None, run.pk))
    per_user: dict[int, list[Run]] = {}
    for run in queued:
        per_user.setdefault(run.user_id, []).append(run)
    served = dict(Run.objects.filter(user_id__in=per_user, started_at__isnull=False).order_by()
                  .values("user_id").annotate(last=Max("started_at")).values_list("user_id", "last"))
    users = sorted(per_user, key=lambda user: (served.get(user) is not None, served.get(user) or 0,
                                               min(run.pk for run in per_user[user])))
    return [run for turn in zip_longest(*(per_user[user] for user in users)) for run in turn if run is not None]


def runs_queue_positions() -> dict[int, int]:
    """Run id -> its place in ``runs_fair_queue`` (1: the next a worker takes)."""
    return {queued.pk: place for place, queued in enumerate(runs_fair_queue(), start=1)}


def run_queue_position(*, run: Run, positions: dict[int, int] | None = None) -> int | None:
    """1 for the next run a worker will take; None once it left the queue. ``positions``: a
    ``runs_queue_positions()`` already computed (a list of runs computes the queue once)."""
    if run.status != RunStatus.QUEUED:
        return None
    return (runs_queue_positions() if positions is None else positions).get(run.pk)


def run_events_since(*, run_id: int, since: int = 0, limit: int = MAX_EVENTS_PER_PAGE) -> list[dict]:
    """Recorded messages with seq > since, in seq order, as the websocket sends them."""
    events = RunEvent.objects.filter(run_id=run_id, seq__gt=since).order_by("seq")[:limit]
    return [event.to_message() for event in events]


def run_metrics_summary(*, run: Run) -> dict:
    """Counts and the latest value of each metric per split (what a run list or page shows)."""
    points = RunEvent.objects.filter(run=run, type=EventType.METRICS)
    latest: dict[str, dict] = {}
    for split in ("train", "eval"):
        last = points.filter(split=split).order_by("-seq").first()
        if last is not None:
            latest[split] = {k: v for k, v in last.payload.items() if k != "split"}
    last_event = RunEvent.objects.filter(run=run).order_by("-seq").values_list("seq", flat=True).first()
    return {"points": points.count(), "last_seq": last_event or 0, "latest": latest}


def run_curves(*, run: Run) -> dict[str, dict[int, float]]:
    """Every numeric metric of the run as ``{"<split>.<metric>": {step: value}}``."""
    curves: dict[str, dict[int, float]] = {}
    for step, split, payload in (
        RunEvent.objects.filter(run=run, type=EventType.METRICS).order_by("seq").values_list("step", "split", "payload")
    ):
        for key, value in payload.items():
            if key in ("step", "split") or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            curves.setdefault(f"{split}.{key}", {})[step] = value
    return curves


def run_compare(*, user, run_ids: list[int]) -> dict:
    """Several runs' curves aligned on the union of their steps (None where a run has no point)."""
    runs = [run_get_readable(user=user, run_id=run_id) for run_id in run_ids]
    curves = {run.pk: run_curves(run=run) for run in runs}
    steps = sorted({step for run_curves_ in curves.values() for curve in run_curves_.values() for step in curve})
    return {
        "steps": steps,
        "runs": [
            {
                "id": run.pk, "graph": run.graph_id, "version": run.graph_version.number if run.graph_version else None,
                # Only whoever may still read the graph sees its title (see run_can_read).
                "graph_title": run.graph.title if graph_readable(user=user, run=run) else None,
                "task": run.task, "status": run.status, "hyper": run.hyper, "final_metrics": run.final_metrics,
                # What the compare page tabulates and diffs, and the x axes it offers (training FLOPs
                # from the cost model's forward flops_per_token).
                "task_params": run.task_params, "budget": run.budget, "seed": run.seed,
                "cost": {k: run.cost.get(k) for k in ("params", "flops_per_token") if k in (run.cost or {})},
                "wall_seconds": run.wall_seconds,
                "series": {name: [curve.get(step) for step in steps] for name, curve in sorted(curves[run.pk].items())},
            }
            for run in runs
        ],
    }
