"""Report cards of the reference examples at one matched budget: the quick tier's table, with wall time.

For each example (Transformer, Mamba, Hyena, S4D, RWKV, RetNet, Jamba-like, StripedHyena-like)
plans a card (workers.report_card) at the same parameter budget and trains it here, one run
after the other. Prints a Markdown table: each task's accuracy (mean over seeds of the best
over the sweep, with the spread when there are several seeds), the score, parameters, state
bytes, wall time, and the worker's overhead: the share of wall time spent outside forward,
backward and the optimizer step (batches, evaluation, events). With ``--json FILE`` the
cards are also written as JSON. ``--quick`` trains 5% of the steps (checks the script only).
Usage: ``python bench/report_card.py [--suite quick] [--params 100k] [--seeds 1] [--only NAME ...]``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from composer.cli.card import parse_count  # noqa: E402
from workers import report_card as rc  # noqa: E402

EXAMPLES = ("transformer", "mamba", "hyena", "s4d", "rwkv", "retnet", "jamba_hybrid", "striped_hyena")


def shortened(suite: rc.Suite, fraction: float) -> rc.Suite:
    tasks = tuple(replace(t, steps=max(2, int(t.steps * fraction))) for t in suite.tasks)
    return replace(suite, name=f"{suite.name}-short", tasks=tasks)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="quick", choices=sorted(rc.SUITES))
    parser.add_argument("--params", type=parse_count, default=rc.DEFAULT_PARAMS)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--quick", action="store_true", help="5%% of the steps: checks the script, not the models")
    parser.add_argument("--only", nargs="*", default=list(EXAMPLES), choices=EXAMPLES)
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the cards as JSON (after each example)")
    parser.add_argument("--tasks", nargs="*", default=None, help="only these tasks of the suite (re-measure a column)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    suite_name = args.suite
    if args.quick:
        rc.SUITES[f"{suite_name}-short"] = shortened(rc.SUITES[suite_name], 0.05)
        suite_name = f"{suite_name}-short"
    if args.tasks:
        base = rc.SUITES[suite_name]
        unknown = sorted(set(args.tasks) - {t.task for t in base.tasks})
        if unknown:
            parser.error(f"--tasks: not in suite {suite_name}: {', '.join(unknown)}")
        rc.SUITES[f"{suite_name}-part"] = replace(base, name=f"{suite_name}-part",
                                                  tasks=tuple(t for t in base.tasks if t.task in args.tasks))
        suite_name = f"{suite_name}-part"
    suite = rc.SUITES[suite_name]
    tasks = sorted({t.task for t in suite.tasks}, key=[t.task for t in suite.tasks].index)

    cards = {}
    for name in args.only:
        spec = json.loads((ROOT / "examples" / f"{name}.json").read_text())
        plan = rc.plan_card(spec, suite=suite_name, params=args.params, seeds=args.seeds)
        started = time.perf_counter()
        card = rc.run_card(plan, device=args.device)
        card["bench_wall_seconds"] = time.perf_counter() - started
        card["d_model"] = plan.spec["model"]["d_model"]
        cards[name] = card
        print(f"# {name}: score {card['score']:.3f} in {card['bench_wall_seconds']:.0f}s", file=sys.stderr, flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(cards, indent=2))

    print(f"Report card, suite {suite_name}, budget {args.params:,} parameters, seeds {args.seeds}, "
          f"{args.threads} CPU threads, torch {torch.__version__}")
    print()
    print("| example | " + " | ".join(tasks) + " | score | params | d_model | state bytes | wall (s) | overhead |")
    print("| --- | " + " | ".join("---:" for _ in tasks) + " | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, card in cards.items():
        cells = []
        for task in tasks:
            rows = [r for r in card["rows"] if r["task"] == task]
            score = card["tasks"].get(task)
            spread = max((r["spread"] or 0.0) for r in rows) if rows else 0.0
            cells.append("-" if score is None else f"{score:.3f}" + (f" ± {spread:.3f}" if args.seeds > 1 else ""))
        results = [r for r in card["results"].values() if r]
        wall = sum(r["wall_seconds"] for r in results)
        overhead = 1 - sum(r["compute_seconds"] for r in results) / wall if wall else 0.0
        print(f"| {name} | " + " | ".join(cells) + f" | {card['score']:.3f} | {card['params']:,} | {card['d_model']} | "
              f"{card['state_bytes']:,} | {card['bench_wall_seconds']:.0f} | {overhead:.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
