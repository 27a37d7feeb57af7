"""Architecture report cards: one spec, scaled to a budget, trained on a suite of diagnostic tasks.

A card is a spec x a named suite x a budget (parameters, or inference state bytes) x seeds,
in the spirit of MAD (Poli et al. 2024, "Mechanistic Design and Scaling of Hybrid
Architectures", repository athms/mad-lab) and Zoology (Arora et al. 2023). ``plan_card``
checks everything up front and expands a card into entries, one training run each (task x
setting x learning rate x weight decay x seed); the caller runs them where it likes: one
after the other in this process (``run_card``: the CLI and the benchmark) or fanned out as
Celery runs (composer/runs). ``summarise_card`` turns the runs' summaries into the card:
per task and setting the best eval accuracy over the sweep, its mean and spread over seeds;
per task the mean over its settings (MAD's task score); the card's score is the mean over tasks.

This module is Django-free: it imports blocks and workers only.
"""
from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

MAX_SEEDS = 5
# The budget a card gets when none is given (the CLI's default; the quick suite is calibrated at it).
DEFAULT_PARAMS = 120_000
BUDGET_KINDS = ("params", "state")
# Parameter budgets are counted with this vocabulary, so a budget means the same for every
# task of a suite (each task then has its own embedding size on top of the matched body).
BUDGET_VOCAB = 256


class CardInvalid(ValueError):
    """A card that cannot be planned; ``errors`` is a list of {"field", "message"} naming each problem."""

    def __init__(self, errors: list[dict]):
        self.errors = list(errors)
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in self.errors))


@dataclass(frozen=True)
class SuiteTask:
    """One task at one setting of a suite, with the training length the suite gives it."""

    task: str
    setting: str
    task_params: dict
    steps: int
    batch_size: int


@dataclass(frozen=True)
class Suite:
    name: str
    title: str
    description: str
    tasks: tuple[SuiteTask, ...]
    sweep: tuple[tuple[float, float], ...]  # (lr, weight_decay) pairs; the best of them counts
    device: str  # where the suite is meant to run: "cpu" or "gpu"
    eval_batches: int = 8
    # Evaluations per run, the last at the final step: each costs eval_batches forward passes, about
    # 3% of a 300-step run's time at 4 per run, so the quick suite takes 2 (a mid-run point and the end).
    evals_per_run: int = 2
    warmup_fraction: float = 0.1
    stop_at_accuracy: float | None = None

    def runs_per_seed(self) -> int:
        return len(self.tasks) * len(self.sweep)

    def max_seq_len(self) -> int:
        from workers.tasks import get_task, resolve_task_params

        return max(get_task(t.task).seq_len(resolve_task_params(t.task, t.task_params)[0]) for t in self.tasks)

    def to_json(self) -> dict:
        return {
            "name": self.name, "title": self.title, "description": self.description, "device": self.device,
            "tasks": [asdict(t) for t in self.tasks],
            "sweep": [{"lr": lr, "weight_decay": wd} for lr, wd in self.sweep],
            "task_names": sorted({t.task for t in self.tasks}),
            "runs_per_seed": self.runs_per_seed(),
            "default_params": DEFAULT_PARAMS,
        }


def _mad_settings() -> tuple[SuiteTask, ...]:
    """MAD's 66 settings (REPORT-CARD-NOTES.md): each task's baseline and one axis changed at a time.

    MAD trains at batch 128 for at most 200 epochs over the finite training set, stopping at
    0.999 test accuracy; steps here are those 200 epochs."""
    def epochs_steps(train_examples: int, batch: int = 128, epochs: int = 200) -> int:
        return epochs * train_examples // batch

    tasks: list[SuiteTask] = []

    def add(task: str, baseline: dict, axes: dict[str, list]) -> None:
        variants = [("baseline", {})] + [(f"{axis}={value}", {axis: value}) for axis, values in axes.items()
                                         for value in values]
        for setting, change in variants:
            params = {**baseline, **change}
            tasks.append(SuiteTask(task, setting, params, epochs_steps(params["train_examples"]), 128))

    recall_axes = {"vocab_size": [32, 64, 128], "seq_len": [256, 512, 1024], "train_examples": [6400, 3200, 1600, 800]}
    recall = {"vocab_size": 16, "seq_len": 128, "train_examples": 12800}
    add("in_context_recall", recall, recall_axes)
    add("fuzzy_recall", {**recall, "k_motif_size": 3, "v_motif_size": 3}, recall_axes)
    add("noisy_recall", {"vocab_size": 32, "noise_vocab_size": 16, "seq_len": 128, "frac_noise": 0.2,
                         "train_examples": 12800},
        {"vocab_size": [48, 80, 144], "seq_len": [256, 512, 1024], "train_examples": [6400, 3200, 1600, 800],
         "frac_noise": [0.4, 0.6, 0.8]})
    add("selective_copy", {"vocab_size": 16, "seq_len": 256, "num_tokens": 16, "train_examples": 12800},
        {"vocab_size": [32, 64, 128], "seq_len": [512, 1024], "train_examples": [6400, 3200, 1600, 800],
         "num_tokens": [32, 64, 96]})
    add("compression", {"vocab_size": 16, "seq_len": 32, "train_examples": 12800},
        {"vocab_size": [32, 64, 128], "seq_len": [64, 128, 256], "train_examples": [6400, 3200, 1600, 800]})
    add("memorization", {"vocab_size": 256, "seq_len": 32, "train_examples": 256},
        {"vocab_size": [512, 1024, 2048, 4096, 8192]})
    return tuple(tasks)


SUITES: dict[str, Suite] = {}


def _register(suite: Suite) -> Suite:
    SUITES[suite.name] = suite
    return suite


QUICK = _register(Suite(
    name="quick",
    title="Quick (CPU, minutes)",
    description="One short setting per capability, on fresh examples every step, at one learning rate. The "
                "two tasks that separate the families get the most steps (Zoology's MQAR: attention against "
                "long convolutions; selective copying: selective against time-invariant state spaces); MAD's "
                "other tasks get short runs that rank, not converge. Within 15 minutes on a 2-core CPU.",
    tasks=(
        # Calibrated (docs/report-card.md): when attention leaves MQAR's 0.25 plateau depends on the
        # initialisation and on the learning rate still being near its peak; under 1,500- and
        # 2,000-step cosines some seeds never left it, under 3,000 steps every seed tried did.
        SuiteTask("mqar", "vocab=256,seq=64,pairs=4", {"vocab_size": 256, "seq_len": 64, "num_kv_pairs": 4},
                  3000, 32),
        # At 800 steps S4D and Mamba were level (0.58-0.62 both); Mamba's curve was still the steeper.
        SuiteTask("selective_copy", "vocab=16,seq=64,copy=8", {"vocab_size": 16, "seq_len": 64, "num_tokens": 8},
                  1600, 32),
        SuiteTask("in_context_recall", "vocab=16,seq=64", {"vocab_size": 16, "seq_len": 64}, 300, 32),
        SuiteTask("fuzzy_recall", "vocab=16,seq=64", {"vocab_size": 16, "seq_len": 64}, 300, 32),
        SuiteTask("noisy_recall", "vocab=32,seq=64", {"vocab_size": 32, "seq_len": 64}, 300, 32),
        SuiteTask("compression", "vocab=16,seq=16", {"vocab_size": 16, "seq_len": 16}, 300, 32),
        SuiteTask("memorization", "vocab=256,seq=32", {"vocab_size": 256, "seq_len": 32}, 300, 32),
    ),
    sweep=((3e-3, 0.1),),
    device="cpu",
))

FULL = _register(Suite(
    name="full",
    title="Full (MAD protocol, GPU)",
    description="MAD's 66 task settings, each trained at learning rates {1e-4, 5e-4, 1e-3} x weight decay "
                "{0, 0.1} (396 runs per seed) at batch 128 for up to 200 epochs, stopping at 0.999 accuracy.",
    tasks=_mad_settings(),
    sweep=tuple((lr, wd) for lr in (1e-4, 5e-4, 1e-3) for wd in (0.0, 0.1)),
    device="gpu",
    eval_batches=10,  # 10 x 128 = MAD's 1,280 test examples
    evals_per_run=10,  # stop_at_accuracy is checked at each
    stop_at_accuracy=0.999,
))


# Seconds on a CPU: three short settings that really train but rank nothing, for tests on real processes
# (the browser tests' server). Registered only when COMPOSER_SMOKE_SUITE=1, so users never see it.
SMOKE = Suite(
    name="smoke",
    title="Smoke (tests, seconds)",
    description="Three settings of 20 steps each: checks that a card trains end to end; its scores mean nothing.",
    tasks=(
        SuiteTask("mqar", "vocab=64,seq=32,pairs=4", {"vocab_size": 64, "seq_len": 32, "num_kv_pairs": 4}, 20, 8),
        SuiteTask("selective_copy", "vocab=16,seq=32,copy=4", {"vocab_size": 16, "seq_len": 32, "num_tokens": 4}, 20, 8),
        SuiteTask("compression", "vocab=16,seq=16", {"vocab_size": 16, "seq_len": 16}, 20, 8),
    ),
    sweep=((3e-3, 0.1),),
    device="cpu",
    eval_batches=2,
    evals_per_run=1,
)
if os.environ.get("COMPOSER_SMOKE_SUITE") == "1":
    _register(SMOKE)


def get_suite(name: Any) -> Suite:
    if not isinstance(name, str) or name not in SUITES:
        raise CardInvalid([{"field": "suite", "message": f"unknown suite {name!r}; known suites: {', '.join(SUITES)}"}])
    return SUITES[name]


def suites_json() -> list[dict]:
    return [suite.to_json() for suite in SUITES.values()]


@dataclass(frozen=True)
class CardEntry:
    """One training run of a card."""

    key: str
    task: str
    setting: str
    task_params: dict
    config: dict
    seed: int

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class CardPlan:
    suite: str
    budget: dict
    seeds: list[int]
    spec: dict
    params: int
    state_bytes: int
    entries: list[CardEntry]
    estimate_seconds: float
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "suite": self.suite, "budget": self.budget, "seeds": self.seeds, "spec": self.spec,
            "params": self.params, "state_bytes": self.state_bytes, "estimate_seconds": self.estimate_seconds,
            "entries": [e.to_json() for e in self.entries], "notes": self.notes,
        }


def card_hash(spec: dict, suite: str, budget: dict, seeds: list[int]) -> str:
    """Content hash of what a card trains: the same spec, suite, budget and seeds give the same card.

    The suite counts by what it trains (tasks, steps, sweep, evaluation), not by its name alone: a
    recalibrated suite must not hand back cards trained on the old settings."""
    canonical = json.dumps({"spec": _model_part(spec), "suite": suite, "training": _suite_training(get_suite(suite)),
                            "budget": budget, "seeds": seeds},
                           sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _suite_training(suite: Suite) -> dict:
    # Title and description are for people; every other field changes what the runs learn.
    return {k: v for k, v in asdict(suite).items() if k not in ("name", "title", "description")}


def _model_part(spec: dict) -> dict:
    # The editor's layout never changes the model, so it never changes the card.
    return {k: v for k, v in spec.items() if k != "layout"}


def _budget(params: Any, state: Any) -> dict:
    given = {kind: value for kind, value in (("params", params), ("state", state)) if value is not None}
    if len(given) != 1:
        raise CardInvalid([{"field": "params", "message": "give exactly one budget: params (a parameter count) "
                                                          "or state (inference state bytes)"}])
    (kind, value), = given.items()
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise CardInvalid([{"field": kind, "message": f"must be a positive integer, got {value!r}"}])
    return {"kind": kind, "value": value}


def _seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise CardInvalid([{"field": "seeds", "message": f"must be an integer in 1..{MAX_SEEDS}, got {seeds!r}"}])
    return list(range(seeds))


def _scaled(spec: dict, suite: Suite, budget: dict) -> tuple[dict, list[str]]:
    from blocks.scaling import ScaleError, scale_to
    from blocks.spec import SpecInvalid

    notes = []
    spec = copy.deepcopy(spec)
    model = spec.setdefault("model", {})
    # Every architecture of a card is built for the suite's longest sequence, neither shorter (it
    # could not train) nor longer (length-sized parameters, such as learned positions or
    # Linformer's projections, would spend the budget on positions no task uses).
    longest = suite.max_seq_len()
    if model.get("max_seq_len") != longest:
        notes.append(f"model.max_seq_len {model.get('max_seq_len')} -> {longest}, the suite's longest sequence")
        model["max_seq_len"] = longest
    try:
        scaled = scale_to(spec, vocab_size=BUDGET_VOCAB, **{budget["kind"]: budget["value"]})
    except ScaleError as exc:
        raise CardInvalid([{"field": exc.field, "message": str(exc.message)}]) from None
    except SpecInvalid as exc:  # the spec itself is broken, whatever the budget
        raise CardInvalid([{"field": f"spec.{e.field}", "message": (f"node {e.node_id!r}: " if e.node_id else "")
                            + e.message} for e in exc.errors]) from None
    if scaled["model"]["d_model"] != model.get("d_model"):
        notes.append(f"d_model {model.get('d_model')} -> {scaled['model']['d_model']} to meet the "
                     f"{budget['kind']} budget of {budget['value']:,}")
    return scaled, notes


def _check_tasks(spec: dict, suite: Suite) -> dict:
    """Every task of the suite accepts the spec; returns its cost summary (JSON) at the budget vocabulary."""
    from blocks.spec import validate_spec
    from workers.tasks import get_task, resolve_task_params

    errors: list[dict] = []
    seen = set()
    for item in suite.tasks:
        task = get_task(item.task)
        params, problems = resolve_task_params(item.task, item.task_params)
        if problems:  # a programming error in the suite, but say where
            errors.extend({"field": f"suite.{item.task}.{p.field}", "message": p.message} for p in problems)
            continue
        key = (item.task, task.vocab_size(params))
        if key in seen:
            continue
        seen.add(key)
        result = validate_spec(spec, vocab_size=task.vocab_size(params), causal=task.next_token)
        for error in result.errors:
            where = f"node {error.node_id!r}: " if error.node_id else ""
            errors.append({"field": f"spec.{error.field}" if not error.field.startswith("spec") else error.field,
                           "message": f"task {item.task} refuses the spec: {where}{error.message}"})
    if errors:
        raise CardInvalid(errors)
    result = validate_spec(spec, vocab_size=BUDGET_VOCAB)
    if not result.ok:  # the card's own budget check; any task above would have said so first
        raise CardInvalid([{"field": f"spec.{e.field}", "message": e.message} for e in result.errors])
    return result.cost.to_json()


# Seconds per training step ~ STEP_OVERHEAD_S + training FLOPs per step / CPU_FLOPS: an estimate shown
# before launch. Against quick cards measured on 2026-11-30 (bench/report_card.py, one thread, 120k
# parameters): Transformer 213 s (estimate 207), Hyena 254 s (208), Mamba 973 s (209). At this size
# a step costs dispatch, not FLOPs, and FLOPs miss the recurrent scans' per-step cost (Mamba 4.7x
# under); a per-block time factor in the registry is what would fix it.
STEP_OVERHEAD_S = 0.03
CPU_FLOPS = 4e11
GPU_SPEEDUP = 10.0


def estimate_seconds(spec_flops_per_token: float, suite: Suite, seeds: int) -> float:
    from workers.tasks import get_task, resolve_task_params

    total = 0.0
    for item in suite.tasks:
        params = resolve_task_params(item.task, item.task_params)[0]
        tokens = item.batch_size * get_task(item.task).seq_len(params)
        per_step = STEP_OVERHEAD_S + 3 * spec_flops_per_token * tokens / CPU_FLOPS  # forward + backward
        total += item.steps * per_step * len(suite.sweep)
    if suite.device == "gpu":
        total /= GPU_SPEEDUP
    return total * seeds


def plan_card(spec: Any, *, suite: Any, params: Any = None, state: Any = None, seeds: Any = 1) -> CardPlan:
    """Check a card and expand it into runs; raises CardInvalid naming every bad field."""
    if not isinstance(spec, dict):
        raise CardInvalid([{"field": "spec", "message": "must be a JSON object"}])
    suite_obj = get_suite(suite)
    budget = _budget(params, state)
    seed_list = _seeds(seeds)
    scaled, notes = _scaled(spec, suite_obj, budget)
    cost = _check_tasks(scaled, suite_obj)
    entries = []
    for seed in seed_list:
        for item in suite_obj.tasks:
            for lr, wd in suite_obj.sweep:
                config = {
                    "steps": item.steps, "batch_size": item.batch_size, "lr": lr, "weight_decay": wd,
                    "warmup_steps": max(1, int(item.steps * suite_obj.warmup_fraction)), "seed": seed,
                    "eval_every": max(1, item.steps // suite_obj.evals_per_run), "eval_batches": suite_obj.eval_batches,
                }
                if suite_obj.stop_at_accuracy is not None:
                    config["stop_at_accuracy"] = suite_obj.stop_at_accuracy
                key = f"{item.task}/{item.setting}/lr={lr:g},wd={wd:g}/seed={seed}"
                entries.append(CardEntry(key, item.task, item.setting, dict(item.task_params), config, seed))
    return CardPlan(suite=suite_obj.name, budget=budget, seeds=seed_list, spec=scaled, params=int(cost["params"]),
                    state_bytes=int(cost["state_bytes"]), entries=entries,
                    estimate_seconds=estimate_seconds(cost["flops_per_token"], suite_obj, len(seed_list)), notes=notes)


def _spread(values: list[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else 0.0


def summarise_card(plan: CardPlan | dict, results: dict[str, dict | None]) -> dict:
    """The card from its runs' summaries (entry key -> trainer summary, or None while missing or failed).

    Per (task, setting): for each seed the best eval accuracy over the sweep, then mean and
    spread (sample standard deviation) over seeds. Per task: the mean over its settings. Score:
    the mean over tasks. Entries without a result are listed in ``missing``; a row whose seeds
    all lack results has ``best_accuracy`` None and does not count towards the score.
    """
    plan_json = plan.to_json() if isinstance(plan, CardPlan) else plan
    rows: dict[tuple[str, str], dict[int, list[float]]] = {}
    wall: dict[tuple[str, str], float] = {}
    missing = []
    for entry in plan_json["entries"]:
        row = rows.setdefault((entry["task"], entry["setting"]), {})
        row.setdefault(entry["seed"], [])
        summary = results.get(entry["key"])
        accuracy = (summary or {}).get("eval_accuracy")
        if accuracy is None or not math.isfinite(accuracy):
            missing.append(entry["key"])
            continue
        row[entry["seed"]].append(float(accuracy))
        wall[(entry["task"], entry["setting"])] = wall.get((entry["task"], entry["setting"]), 0.0) + float(
            summary.get("wall_seconds") or 0.0)
    table = []
    for (task, setting), by_seed in rows.items():
        bests = [max(accs) for accs in by_seed.values() if accs]
        table.append({
            "task": task, "setting": setting,
            "best_accuracy": statistics.fmean(bests) if bests else None,
            "spread": _spread(bests) if bests else None,
            "per_seed": {str(seed): (max(accs) if accs else None) for seed, accs in by_seed.items()},
            "wall_seconds": wall.get((task, setting), 0.0),
        })
    tasks: dict[str, list[float]] = {}
    for row in table:
        if row["best_accuracy"] is not None:
            tasks.setdefault(row["task"], []).append(row["best_accuracy"])
    task_scores = {task: statistics.fmean(values) for task, values in tasks.items()}
    return {
        "suite": plan_json["suite"], "budget": plan_json["budget"], "params": plan_json["params"],
        "state_bytes": plan_json["state_bytes"], "seeds": plan_json["seeds"],
        "rows": table, "tasks": task_scores,
        "score": statistics.fmean(task_scores.values()) if task_scores else None,
        "complete": not missing, "missing": missing,
        "wall_seconds": sum(wall.values()),
    }


def run_card(plan: CardPlan, *, device: str | None = None, on_event: Callable[[dict], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> dict:
    """Train every entry here, one after the other; returns the card (summarise_card) plus per-entry results.

    ``on_event`` gets {"type": "entry_started"|"entry_done", "index", "total", "key", ...} and the
    trainer's own events with "key" added."""
    from workers.trainer import train

    emit = on_event or (lambda event: None)
    results: dict[str, dict | None] = {}
    total = len(plan.entries)
    for index, entry in enumerate(plan.entries):
        if should_stop is not None and should_stop():
            break
        emit({"type": "entry_started", "index": index, "total": total, "key": entry.key})
        config = {**entry.config, "device": device} if device else dict(entry.config)
        summary = train(plan.spec, entry.task, entry.task_params, config,
                        on_event=lambda event, key=entry.key: emit({**event, "key": key}), should_stop=should_stop)
        results[entry.key] = summary if summary.get("stopped") not in ("diverged", "cancelled") else None
        emit({"type": "entry_done", "index": index, "total": total, "key": entry.key, "summary": summary})
    card = summarise_card(plan, results)
    card["results"] = {key: _brief(summary) for key, summary in results.items()}
    return card


def _brief(summary: dict | None) -> dict | None:
    if summary is None:
        return None
    keep = ("eval_accuracy", "final_eval_loss", "params", "wall_seconds", "compute_seconds", "steps", "stopped",
            "device")
    return {k: summary.get(k) for k in keep}
