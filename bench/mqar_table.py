"""MQAR recall by architecture: final eval accuracy and wall time of the example specs at equal steps.

Trains the example specs (d_model 64) on mqar with seq_len 64, 4 key-value pairs and
vocabulary 256, each for the same number of steps with the same seed and hyper-parameters,
next to a hand-written baseline that uses none of the project's blocks (2 layers of
GPT-2-style attention: learned absolute positions, biases, LayerNorm, GELU MLP), so a
surprising number can be checked against a model written from scratch on the same batches.
Prints a Markdown table (the one in docs/mqar.md).
Usage: ``python bench/mqar_table.py [--steps N] [--quick] [--device cpu] [--only NAME ...]``.
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
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from workers.trainer import TrainConfig, train  # noqa: E402

EXAMPLES = ("transformer", "mamba", "hyena", "s4d", "rwkv", "retnet", "performer", "jamba_hybrid", "striped_hyena",
            "memory", "hierarchical")
BASELINE = "hand-written attention"


def without_input_positions(spec: dict) -> dict:
    spec["nodes"] = [{k: v for k, v in n.items() if k != "params"} if n["type"] == "input" else n for n in spec["nodes"]]
    return spec


# Controls: an example with one thing changed, to show what a difference is due to.
VARIANTS = {
    "transformer-rope-only": ("transformer", without_input_positions),  # the example before 2026-11-30
}
TASK_PARAMS = {"seq_len": 64, "num_kv_pairs": 4, "vocab_size": 256}


class HandWrittenAttention(nn.Module):
    """GPT-2 in miniature, written without the blocks library: the control for every row."""

    def __init__(self, vocab_size: int, d_model: int = 64, layers: int = 2, heads: int = 4, max_len: int = 256):
        super().__init__()
        self.heads = heads
        self.tokens = nn.Embedding(vocab_size, d_model)
        self.positions = nn.Embedding(max_len, d_model)
        self.layers = nn.ModuleList(nn.ModuleDict({
            "ln1": nn.LayerNorm(d_model), "qkv": nn.Linear(d_model, 3 * d_model), "out": nn.Linear(d_model, d_model),
            "ln2": nn.LayerNorm(d_model), "up": nn.Linear(d_model, 4 * d_model), "down": nn.Linear(4 * d_model, d_model),
        }) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.tokens.weight

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        batch, length = tokens.shape
        x = self.tokens(tokens) + self.positions(torch.arange(length, device=tokens.device))
        for layer in self.layers:
            q, k, v = layer["qkv"](layer["ln1"](x)).view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
            attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + layer["out"](attended.transpose(1, 2).reshape(batch, length, -1))
            x = x + layer["down"](F.gelu(layer["up"](layer["ln2"](x))))
        return self.head(self.ln_f(x))


def build_baseline(spec: dict, *, vocab_size: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return HandWrittenAttention(vocab_size)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--quick", action="store_true", help="100 steps: checks the script, not the architectures")
    parser.add_argument("--only", nargs="*", default=[BASELINE, *EXAMPLES], choices=[BASELINE, *EXAMPLES, *VARIANTS])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps = 100 if args.quick else args.steps
    config = dict(steps=steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed, warmup_steps=min(100, steps // 10),
                  eval_every=steps, eval_batches=16, device=args.device)

    rows = []
    for name in args.only:
        started = time.perf_counter()
        if name == BASELINE:
            summary = train({"model": {"max_seq_len": 256}}, "mqar", TASK_PARAMS, TrainConfig(**config),
                            build_model=build_baseline)
        else:
            example, change = VARIANTS.get(name, (name, lambda spec: spec))
            spec = change(json.loads((ROOT / "examples" / f"{example}.json").read_text()))
            summary = train(spec, "mqar", TASK_PARAMS, TrainConfig(**config))
        rows.append((name, summary["params"], summary["eval_accuracy"], summary["final_eval_loss"],
                     time.perf_counter() - started, summary["device"]))
        print(f"# {name}: accuracy {summary['eval_accuracy']:.3f} in {rows[-1][4]:.0f}s", file=sys.stderr, flush=True)

    print(f"MQAR, seq_len {TASK_PARAMS['seq_len']}, {TASK_PARAMS['num_kv_pairs']} pairs, vocab {TASK_PARAMS['vocab_size']}; "
          f"{steps} steps x batch {args.batch_size}, lr {args.lr}, seed {args.seed}, d_model 64, device {rows[0][5]}, "
          f"{args.threads} CPU threads")
    print()
    print("| model | params | eval accuracy | eval loss | wall time (s) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for name, params, accuracy, loss, seconds, _ in rows:
        print(f"| {name} | {params:,} | {accuracy:.3f} | {loss:.3f} | {seconds:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
