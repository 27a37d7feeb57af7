"""MQAR recall by architecture: final eval accuracy and wall time of the example specs at equal steps.

Trains examples/{transformer,mamba,hyena,rwkv}.json (d_model 64) on mqar with
seq_len 64, 4 key-value pairs and vocabulary 256, each for the same number of steps
with the same seed and hyper-parameters, and prints a Markdown table (the one in
docs/mqar.md). Usage: ``python bench/mqar_table.py [--steps N] [--quick] [--device cpu]``.
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

from workers.trainer import TrainConfig, train  # noqa: E402

EXAMPLES = ("transformer", "mamba", "hyena", "rwkv")
TASK_PARAMS = {"seq_len": 64, "num_kv_pairs": 4, "vocab_size": 256}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--quick", action="store_true", help="100 steps: checks the script, not the architectures")
    parser.add_argument("--only", nargs="*", default=list(EXAMPLES), choices=EXAMPLES)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps = 100 if args.quick else args.steps
    config = dict(steps=steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed, warmup_steps=min(100, steps // 10),
                  eval_every=steps, eval_batches=16, device=args.device)

    rows = []
    for name in args.only:
        spec = json.loads((ROOT / "examples" / f"{name}.json").read_text())
        started = time.perf_counter()
        summary = train(spec, "mqar", TASK_PARAMS, TrainConfig(**config))
        rows.append((name, summary["params"], summary["eval_accuracy"], summary["final_eval_loss"],
                     time.perf_counter() - started, summary["device"]))
        print(f"# {name}: accuracy {summary['eval_accuracy']:.3f} in {rows[-1][4]:.0f}s", file=sys.stderr, flush=True)

    print(f"MQAR, seq_len {TASK_PARAMS['seq_len']}, {TASK_PARAMS['num_kv_pairs']} pairs, vocab {TASK_PARAMS['vocab_size']}; "
          f"{steps} steps x batch {args.batch_size}, lr {args.lr}, seed {args.seed}, d_model 64, device {rows[0][5]}, "
          f"{args.threads} CPU threads")
    print()
    print("| example | params | eval accuracy | eval loss | wall time (s) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, params, accuracy, loss, seconds, _ in rows:
        print(f"| {name} | {params:,} | {accuracy:.3f} | {loss:.3f} | {seconds:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
