"""`composer card SPEC.json --suite quick --params 100k --seeds 3`: a report card, headless.

Scales the spec to the budget, trains it on every task of the suite (one run after the other,
in this process) with a progress bar on stderr, prints the card as a table on stderr and the
card as JSON on stdout (each task's score under "tasks"). Bad input prints one line per
problem naming the field and exits with status 2. torch loads only in ``run``.
"""
from __future__ import annotations

import argparse
import json
import re
import sys

from composer.cli.train import EXIT_BAD_INPUT, BadInput, load_spec
from workers.json_values import json_safe
from workers.report_card import DEFAULT_PARAMS  # plain Python: torch loads only in run()

SUFFIXES = {"": 1, "k": 1_000, "m": 1_000_000, "g": 1_000_000_000}


def parse_count(text: str) -> int:
    """'100k', '1.5M', '100000' or '100_000' -> int (argparse type)."""
    match = re.fullmatch(r"\s*([0-9][0-9_]*(?:\.[0-9]+)?)\s*([kKmMgG]?)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected a count like 100000, 100k or 1.5M, got {text!r}")
    value = float(match.group(1).replace("_", "")) * SUFFIXES[match.group(2).lower()]
    if value < 1 or not value.is_integer():
        raise argparse.ArgumentTypeError(f"expected a positive whole count, got {text!r}")
    return int(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC.json", help="the model spec (JSON)")
    parser.add_argument("--suite", default="quick", help="task suite: quick (CPU, minutes) or full (MAD, GPU)")
    budget = parser.add_mutually_exclusive_group()
    budget.add_argument("--params", type=parse_count, default=None, help=f"parameter budget, e.g. 100k (default {DEFAULT_PARAMS:,})")
    budget.add_argument("--state", type=parse_count, default=None, help="inference state budget in bytes, e.g. 64k")
    parser.add_argument("--seeds", type=int, default=1, help="seeds per setting (1..5, default 1)")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None,
                        help="default: COMPOSER_DEVICE, else cuda when available")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar and no table")


def format_table(card: dict) -> str:
    lines = [f"{'task':<20} {'setting':<24} {'accuracy':>9} {'spread':>7} {'wall s':>7}"]
    for row in card["rows"]:
        accuracy = "-" if row["best_accuracy"] is None else f"{row['best_accuracy']:.3f}"
        spread = "-" if row["spread"] is None else f"{row['spread']:.3f}"
        lines.append(f"{row['task']:<20} {row['setting']:<24} {accuracy:>9} {spread:>7} {row['wall_seconds']:>7.0f}")
    score = "-" if card["score"] is None else f"{card['score']:.3f}"
    lines.append(f"score {score} over {len(card['tasks'])} tasks; {card['params']:,} parameters, "
                 f"{card['state_bytes']:,} state bytes; suite {card['suite']}, seeds {card['seeds']}")
    return "\n".join(lines)


class _CardProgress:
    """One bar over every training step of the card; the postfix names the run in progress."""

    def __init__(self, total_steps: int, quiet: bool):
        from tqdm import tqdm

        self.bar = None if quiet else tqdm(total=total_steps, file=sys.stderr, unit="step", dynamic_ncols=True)
        self.done_before = 0
        self.current = 0

    def __call__(self, event: dict) -> None:
        if self.bar is None:
            return
        kind = event.get("type")
        if kind == "entry_started":
            self.bar.set_description(f"{event['index'] + 1}/{event['total']} {event['key'].split('/')[0]}")
        elif kind == "metrics" and event.get("split") == "train":
            self.current = event["step"]
            self.bar.update(self.done_before + self.current - self.bar.n)
        elif kind == "entry_done":
            self.done_before += event["summary"]["config"]["steps"]
            self.bar.update(self.done_before - self.bar.n)
            accuracy = event["summary"].get("eval_accuracy")
            self.bar.write(f"{event['key']}: accuracy {accuracy if accuracy is None else round(accuracy, 3)} "
                           f"in {event['summary']['wall_seconds']:.0f}s", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def run(args: argparse.Namespace) -> int:
    from workers.report_card import CardInvalid, plan_card, run_card

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        spec = load_spec(args.spec)
        budget = {"state": args.state} if args.state is not None else {"params": args.params or DEFAULT_PARAMS}
        plan = plan_card(spec, suite=args.suite, seeds=args.seeds, **budget)
    except BadInput as exc:
        lines = exc.lines
    except CardInvalid as exc:
        lines = [f"{e['field']}: {e['message']}" for e in exc.errors]
    else:
        lines = None
    if lines is not None:
        for line in lines:
            print(f"composer card: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.quiet:
        for note in plan.notes:
            print(f"composer card: {note}", file=sys.stderr)
        print(f"composer card: {len(plan.entries)} runs, about {plan.estimate_seconds / 60:.0f} min", file=sys.stderr)
    progress = _CardProgress(sum(e.config["steps"] for e in plan.entries), args.quiet)
    try:
        card = run_card(plan, device=args.device, on_event=progress)
    finally:
        progress.close()
    if not args.quiet:
        print(format_table(card), file=sys.stderr)
    card["spec"] = plan.spec
    print(json.dumps(json_safe(card), indent=2))
    return 0
