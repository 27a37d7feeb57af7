"""Reference cards: the examples' report cards, computed once and shipped as data, loaded as ordinary cards.

``bench/report_card.py --json FILE`` trains the examples' cards and writes ``{example stem: card}``
(``workers.report_card.run_card``'s card plus ``bench_wall_seconds`` and ``d_model``).
``manage.py stamp_reference_cards FILE OUT`` checks that file against the examples as they are (the
sizes it recorded, one result per planned run) and adds to each card ``card_hash`` (what a launch of
that card computes) and ``plan_digest`` (a hash of the planned runs: scaled spec, size, and every
entry's task, setting and recipe; ``card_hash`` names the suite, not its steps). The stamped files
live in ``examples/reference-cards/``.

``load_reference_cards`` (run by ``manage.py load_examples``) plans each shipped card again and
refuses the file when either hash differs from today's (the example or the suite changed: the
numbers are stale and must be computed again); otherwise it creates the card on the example's
graph, owned by the examples' owner, with one finished run per entry carrying the final metrics
the bench recorded, and the summary, score and status the card's own code derives from them. A
launch of the same spec, suite, budget and seeds then gets that card back (``card_reusable``):
it is never trained twice. Idempotent: an unchanged card is left alone, a changed one replaced.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

MSG_UNSTAMPED = ("{where}: not stamped (no card_hash): run `manage.py stamp_reference_cards` on the output of "
                 "bench/report_card.py --json")
MSG_STALE_HASH = ("{where}: stale: the card was computed for another spec, suite, budget or seeds (card_hash {old:.12}, "
                  "today {new:.12}); compute it again (bench/report_card.py --json, then manage.py stamp_reference_cards)")
MSG_STALE_PLAN = ("{where}: stale: the suite now plans other runs than those the card trained (plan_digest "
                  "{old:.12}, today {new:.12}); compute it again (bench/report_card.py --json, then "
                  "manage.py stamp_reference_cards)")
MSG_NO_EXAMPLE = "{where}: no example graph {name!r} (examples/{name}.json)"
MSG_LOADED_RUN = ("Loaded from examples/reference-cards/{file}: trained by bench/report_card.py, which keeps each run's "
                  "final metrics but not its curves.")
MSG_NO_RESULT = "No result in examples/reference-cards/{file}: the run diverged or was stopped when the card was computed."


class ReferenceCardsInvalid(ValueError):
    """A reference-card file that cannot be stamped or loaded; the message names the file and the card."""


def plan_of(spec: dict, card: dict, where: str):
    """The card's plan as ``plan_card`` makes it today (its suite, budget and seed count)."""
    from workers.report_card import CardInvalid, plan_card

    budget, seeds = card.get("budget") or {}, card.get("seeds")
    if not isinstance(seeds, list) or seeds != list(range(len(seeds))):
        raise ReferenceCardsInvalid(f"{where}: seeds must be 0..n-1 as plan_card numbers them, got {seeds!r}")
    try:
        return plan_card(spec, suite=card.get("suite"), seeds=len(seeds), **{budget.get("kind", "params"): budget.get("value")})
    except CardInvalid as invalid:
        raise ReferenceCardsInvalid(f"{where}: {invalid}") from None


def plan_digest(plan) -> str:
    """sha256 of what the card's runs train: the scaled spec (layout aside), its size and every entry."""
    spec = {k: v for k, v in plan.spec.items() if k != "layout"}
    canonical = json.dumps({"spec": spec, "params": plan.params, "state_bytes": plan.state_bytes,
                            "entries": [e.to_json() for e in plan.entries]}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _hash_of(spec: dict, plan) -> str:
    from workers.report_card import card_hash

    return card_hash(spec, plan.suite, plan.budget, plan.seeds)


def example_spec(examples_dir: Path, name: str) -> dict:
    """An example's spec as ``load_examples`` reads it (a bare spec or ``{"spec": ...}``)."""
    path = Path(examples_dir) / f"{name}.json"
    if not path.exists():
        raise ReferenceCardsInvalid(MSG_NO_EXAMPLE.format(where=name, name=name))
    spec = json.loads(path.read_text())
    return spec["spec"] if isinstance(spec, dict) and isinstance(spec.get("spec"), dict) else spec


def stamp(cards: dict, examples_dir: Path) -> dict:
    """The bench's cards with ``card_hash`` and ``plan_digest`` added, after checking each against the
    example as it is now: the same size and d_model, and a result for exactly the planned runs."""
    if not isinstance(cards, dict) or not cards:
        raise ReferenceCardsInvalid("expected {example name: card} as bench/report_card.py --json writes it")
    stamped = {}
    for name, card in cards.items():
        spec = example_spec(examples_dir, name)
        plan = plan_of(spec, card, name)
        facts = {"params": plan.params, "state_bytes": plan.state_bytes, "d_model": plan.spec["model"]["d_model"]}
        differ = {k: (card.get(k), v) for k, v in facts.items() if card.get(k) != v}
        if differ:
            raise ReferenceCardsInvalid(f"{name}: the card was computed for another version of the example or "
                                        f"the suite (recorded vs today: {differ})")
        planned, recorded = {e.key for e in plan.entries}, set(card.get("results") or {})
        if planned != recorded:
            raise ReferenceCardsInvalid(f"{name}: results for other runs than the plan's (missing "
                                        f"{sorted(planned - recorded)}, extra {sorted(recorded - planned)})")
        stamped[name] = {**card, "card_hash": _hash_of(spec, plan), "plan_digest": plan_digest(plan)}
    return stamped


def check(card: dict, spec: dict, where: str):
    """Today's plan of a stamped card, or ReferenceCardsInvalid when the card is stale."""
    if not card.get("card_hash") or not card.get("plan_digest"):
        raise ReferenceCardsInvalid(MSG_UNSTAMPED.format(where=where))
    plan = plan_of(spec, card, where)
    today = _hash_of(spec, plan)
    if today != card["card_hash"]:
        raise ReferenceCardsInvalid(MSG_STALE_HASH.format(where=where, old=card["card_hash"], new=today))
    today = plan_digest(plan)
    if today != card["plan_digest"]:
        raise ReferenceCardsInvalid(MSG_STALE_PLAN.format(where=where, old=card["plan_digest"], new=today))
    return plan


# --- loading (Django) ----------------------------------------------------------------------------------


def _final_metrics(result: dict | None) -> dict | None:
    from composer.runs.services import FINAL_METRIC_KEYS

    return None if result is None else {k: result[k] for k in FINAL_METRIC_KEYS if k in result}


def _unchanged(card, metrics: dict[str, dict | None]) -> bool:
    from composer.runs.models import RunStatus

    have = {key: (final if status == RunStatus.SUCCEEDED else None)
            for key, status, final in card.runs.values_list("card_key", "status", "final_metrics")}
    return have == metrics


def _create(*, graph, version, owner, plan, content_hash: str, metrics: dict[str, dict | None], results: dict,
            file: str):
    """A finished card with one finished run per entry, as the card's own code would have left it."""
    from django.utils import timezone

    from composer.cards.models import ReportCard
    from composer.cards.selectors import card_progress, card_summary
    from composer.cards.services import final_status
    from composer.runs.limits import run_limits
    from composer.runs.models import EventType, Run, RunStatus
    from composer.runs.services import LaunchRequest, check_run_request, run_events_store, run_reserve_seqs

    now = timezone.now()
    plan_json = plan.to_json()
    card = ReportCard.objects.create(
        graph=graph, graph_version=version, user=owner, suite=plan.suite, budget_kind=plan.budget["kind"],
        budget_value=plan.budget["value"], seeds=len(plan.seeds), plan=plan_json, content_hash=content_hash,
        started_at=now,
    )
    costs: dict = {}
    for entry in plan.entries:
        config, final = entry.config, metrics[entry.key]
        # The same checks and resolved task parameters as a launch (card_launch); the stored budget is
        # none, as the bench trained without one.
        task, task_params, cost = check_run_request(plan_json["spec"], LaunchRequest(
            task=entry.task, task_params=entry.task_params, lr=config["lr"], batch_size=config["batch_size"],
            steps=config["steps"], seed=entry.seed, max_seconds=run_limits().max_seconds, max_tokens=None), costs=costs)
        status = RunStatus.SUCCEEDED if final is not None else RunStatus.FAILED
        result = results.get(entry.key) or {}
        run = Run.objects.create(
            graph=graph, graph_version=version, user=owner, spec=plan_json["spec"], task=task.name,
            task_params=task_params, seed=entry.seed, cost=cost, hyper={**config, "seed": entry.seed},
            budget={"max_seconds": None, "max_tokens": None}, card=card, card_key=entry.key, status=status,
            device=str(result.get("device") or "")[:16], wall_seconds=result.get("wall_seconds"),
            final_metrics=final or {}, error_message="" if final is not None else MSG_NO_RESULT.format(file=file),
            started_at=now, finished_at=now,
        )
        events = [{"type": EventType.LOG, "message": MSG_LOADED_RUN.format(file=file)},
                  {"type": EventType.STATUS, "status": status.value}]
        events.append({"type": EventType.DONE, "status": status.value, "result": final} if final is not None
                      else {"type": EventType.ERROR, "message": run.error_message, "traceback": ""})
        last = run_reserve_seqs(run_id=run.pk, count=len(events))
        run_events_store(run_id=run.pk, messages=[{**e, "type": str(e["type"]), "run": run.pk,
                                                   "seq": last - len(events) + 1 + i} for i, e in enumerate(events)])
    card.summary = card_summary(card=card)
    card.score = card.summary.get("score")
    card.status, card.finished_at = final_status(card, card_progress(card=card)), now
    card.save(update_fields=["summary", "score", "status", "finished_at"])
    return card


def load_reference_cards(*, directory: Path, owner) -> dict[str, int]:
    """Load every stamped card of ``directory``/*.json onto the owner's example graphs (call inside
    a transaction: a stale card raises ReferenceCardsInvalid and nothing is kept). Cards of those
    graphs that no file ships any more are removed. Returns counts: created, replaced, unchanged, removed."""
    from composer.cards.models import ReportCard
    from composer.graphs.models import Graph
    from composer.runs.services import RunError, graph_version_to_train

    counts = {"created": 0, "replaced": 0, "unchanged": 0, "removed": 0}
    kept: set[int] = set()
    for path in sorted(Path(directory).glob("*.json")) if Path(directory).is_dir() else []:
        try:
            cards = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise ReferenceCardsInvalid(f"{path.name}: not JSON: {error}") from None
        if not isinstance(cards, dict):
            raise ReferenceCardsInvalid(f"{path.name}: expected {{example name: card}}")
        for name, shipped in cards.items():
            where = f"{path.name}: {name}"
            graph = Graph.objects.filter(owner=owner, template_slug=name).first()
            if graph is None:
                raise ReferenceCardsInvalid(MSG_NO_EXAMPLE.format(where=where, name=name))
            version = graph_version_to_train(graph, None)
            plan = check(shipped, version.spec, where)
            results = shipped.get("results") or {}
            metrics = {e.key: _final_metrics(results.get(e.key)) for e in plan.entries}
            same = ReportCard.objects.filter(user=owner, graph=graph, content_hash=shipped["card_hash"])
            existing = same.order_by("-id").first()
            if existing is not None and _unchanged(existing, metrics):
                kept.add(existing.pk)
                counts["unchanged"] += 1
                continue
            counts["replaced" if existing is not None else "created"] += 1
            same.delete()
            try:
                card = _create(graph=graph, version=version, owner=owner, plan=plan, content_hash=shipped["card_hash"],
                               metrics=metrics, results=results, file=path.name)
            except RunError as error:  # a run the per-run limits refuse: a launch would be refused too
                raise ReferenceCardsInvalid(f"{where}: {error.message}") from None
            kept.add(card.pk)
    stale = ReportCard.objects.filter(user=owner, graph__owner=owner, graph__is_template=True).exclude(pk__in=kept)
    counts["removed"] = stale.count()
    stale.delete()
    return counts
