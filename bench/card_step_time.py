"""Per-step training time of the examples at a card's size, task by task: what a card costs, in one run.

For each example, plans its quick card (``workers.report_card.plan_card``), builds the scaled model
and times AdamW training steps at each suite task's batch size and length, examples interleaved
and best of ``--repeats``, so the ratios hold on a loaded machine where absolute wall times do not.
Prints ms/step per task, and each example's card time relative to ``--against`` weighted by the
suite's steps per task (the card's cost ratio: multiply by a measured card of ``--against``).
Usage: ``python bench/card_step_time.py [--only rwkv mamba transformer] [--against mamba]``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from blocks.compiler import compile_spec  # noqa: E402
from workers import report_card as rc  # noqa: E402
from workers.tasks import get_task, resolve_task_params  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=["transformer", "mamba", "rwkv"])
    parser.add_argument("--against", default="mamba")
    parser.add_argument("--suite", default="quick", choices=sorted(rc.SUITES))
    parser.add_argument("--params", type=int, default=rc.DEFAULT_PARAMS)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per repeat")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    if args.against not in args.only:
        parser.error("--against must be one of --only")
    torch.set_num_threads(args.threads)
    suite = rc.SUITES[args.suite]
    models = {}
    for name in args.only:
        plan = rc.plan_card(json.loads((ROOT / "examples" / f"{name}.json").read_text()), suite=args.suite,
                            params=args.params)
        models[name] = compile_spec(plan.spec, vocab_size=rc.BUDGET_VOCAB)
    tasks = list(dict.fromkeys(t.task for t in suite.tasks))
    steps = {task: sum(t.steps for t in suite.tasks if t.task == task) for task in tasks}
    best: dict[tuple[str, str], float] = {}
    for task in tasks:
        entry = next(t for t in suite.tasks if t.task == task)
        length = get_task(task).seq_len(resolve_task_params(task, entry.task_params)[0])
        x = torch.randint(0, 16, (entry.batch_size, length))
        for _ in range(args.repeats):
            for name, model in models.items():  # interleaved: the machine's load falls on every model alike
                optimizer = torch.optim.AdamW(model.parameters(), 1e-4)
                started = time.perf_counter()
                for _ in range(args.steps):
                    model(x).float().mean().backward()
                    optimizer.step()
                    optimizer.zero_grad()
                seconds = (time.perf_counter() - started) / args.steps
                best[task, name] = min(best.get((task, name), seconds), seconds)
    print(f"Training step time (ms, best of {args.repeats}), suite {args.suite}, {args.params:,} parameters, "
          f"{args.threads} thread(s); card cost relative to {args.against}, weighted by the suite's steps")
    print()
    print("| example | " + " | ".join(tasks) + f" | card / {args.against} |")
    print("| --- | " + " | ".join("---:" for _ in tasks) + " | ---: |")
    for name in args.only:
        cost = sum(steps[t] * best[t, name] for t in tasks) / sum(steps[t] * best[t, args.against] for t in tasks)
        print(f"| {name} | " + " | ".join(f"{1000 * best[t, name]:.1f}" for t in tasks) + f" | {cost:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
