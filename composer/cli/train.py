"""`composer train SPEC.json --task NAME`: train a spec headless and print a JSON summary.

A progress bar goes to stderr, every metrics event to a JSON-lines file (``--metrics``,
or ``metrics.jsonl`` in ``--out``), and the final summary to stdout, so the command
composes in shell pipelines (``composer train x.json --task mqar | jq .eval_accuracy``).

Bad input (unreadable spec, invalid spec, unknown task, bad task params or settings)
prints one line per problem naming the field on stderr and exits with status 2.
torch and the blocks are imported only in ``run`` so ``composer up`` stays light.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from workers.json_values import json_safe

EXIT_BAD_INPUT = 2


class BadInput(Exception):
    """Problems with what the user gave us; each line names the field."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__("\n".join(lines))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC.json", help="the model spec (JSON)")
    parser.add_argument("--task", required=True, help="training task, e.g. mqar, selective_copy, char_lm")
    parser.add_argument("--task-param", action="append", default=[], metavar="KEY=VALUE",
                        help="a task parameter (repeatable), e.g. --task-param num_kv_pairs=8")
    parser.add_argument("--steps", type=int, default=200, help="optimiser steps (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="seed for weights and batches (default 0)")
    parser.add_argument("--device", choices=("cpu", "cuda", "auto"), default=None,
                        help="default: COMPOSER_DEVICE, else cuda when available")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default 3e-3)")
    parser.add_argument("--warmup-steps", type=int, default=None, help="default: min(20, steps / 10)")
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--eval-batches", type=int, default=4)
    parser.add_argument("--max-seconds", type=float, default=None, help="stop after this much wall time")
    parser.add_argument("--max-tokens", type=int, default=None, help="stop before training on more tokens")
    parser.add_argument("--corpus", metavar="FILE", default=None,
                        help="UTF-8 text for char_lm (sets corpus_id=1 unless given)")
    parser.add_argument("--out", metavar="DIR", default=None,
                        help="write model.safetensors, spec.json, summary.json and metrics.jsonl here")
    parser.add_argument("--metrics", metavar="FILE", default=None, help="metrics as JSON lines (default: DIR/metrics.jsonl)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def parse_task_params(pairs: list[str]) -> dict:
    """``k=v`` strings to a dict; values are read as JSON (8, 0.5, true) and otherwise kept as text."""
    params, problems = {}, []
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key.strip():
            problems.append(f"--task-param {pair!r}: expected KEY=VALUE")
            continue
        try:
            params[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[key.strip()] = raw
    if problems:
        raise BadInput(problems)
    return params


def load_spec(path: str) -> dict:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput([f"spec: cannot read {path}: {exc.strerror or exc}"]) from None
    except UnicodeDecodeError:
        raise BadInput([f"spec: {path} is not UTF-8 text"]) from None
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput([f"spec: {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"]) from None
    if not isinstance(spec, dict):
        raise BadInput([f"spec: {path} must hold a JSON object"])
    return spec


def _install_corpus(path: str, task_params: dict) -> None:
    from workers.tasks.char_lm import CorpusInvalid, corpus_from_upload, set_corpus_resolver

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BadInput([f"--corpus: cannot read {path}: {exc.strerror or exc}"]) from None
    try:
        corpus = corpus_from_upload(data, name=Path(path).name)
    except CorpusInvalid as exc:
        raise BadInput([f"--corpus: {exc}"]) from None
    corpus_id = task_params.setdefault("corpus_id", 1)
    set_corpus_resolver(lambda wanted: corpus if wanted == corpus_id else None)


class _ProgressReporter:
    """Turns trainer events into a tqdm bar (stderr) and JSON lines (metrics file)."""

    def __init__(self, total_steps: int, metrics_file, quiet: bool):
        from tqdm import tqdm

        self.metrics_file = metrics_file
        self.bar = None if quiet else tqdm(total=total_steps, file=sys.stderr, unit="step", dynamic_ncols=True)
        self.last_eval: dict = {}

    def __call__(self, event: dict) -> None:
        if self.metrics_file is not None and event.get("type") == "metrics":
            self.metrics_file.write(json.dumps(json_safe(event)) + "\n")
            self.metrics_file.flush()
        if self.bar is None:
            return
        if event.get("type") == "log":
            self.bar.write(event["message"], file=sys.stderr)
        elif event.get("split") == "eval":
            self.last_eval = {"eval_loss": f"{event['loss']:.3f}", "acc": f"{event['accuracy']:.3f}"}
        elif event.get("split") == "train":
            self.bar.update(event["step"] - self.bar.n)
            self.bar.set_postfix(loss=f"{event['loss']:.3f}", lr=f"{event['lr']:.1e}", **self.last_eval, refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _error_lines(exc: Exception) -> list[str]:
    errors = getattr(exc, "errors", None) or []
    lines = []
    for error in errors:
        item = error.to_json() if hasattr(error, "to_json") else dict(error)
        where = f"node {item['node_id']!r} " if item.get("node_id") else ""
        lines.append(f"{where}{item.get('field', '?')}: {item.get('message', '')}")
    return lines or [str(exc)]


def run(args: argparse.Namespace) -> int:
    from blocks.spec import SpecInvalid
    from workers.tasks import TaskParamsInvalid
    from workers.trainer import TrainConfig, TrainConfigInvalid, train

    reporter = None
    metrics_file = None
    try:
        spec = load_spec(args.spec)
        task_params = parse_task_params(args.task_param)
        if args.corpus:
            _install_corpus(args.corpus, task_params)
        warmup = args.warmup_steps if args.warmup_steps is not None else min(20, max(0, args.steps // 10))
        config = TrainConfig(steps=args.steps, batch_size=args.batch_size, lr=args.lr, warmup_steps=warmup,
                             seed=args.seed, eval_every=args.eval_every, eval_batches=args.eval_batches,
                             max_seconds=args.max_seconds, max_tokens=args.max_tokens, device=args.device)
        config.validate()
        metrics_path = Path(args.metrics) if args.metrics else (Path(args.out) / "metrics.jsonl" if args.out else None)
        if metrics_path is not None:
            metrics_path.parent.mkdir(parents=True, exist_ok=True)
            metrics_file = metrics_path.open("w", encoding="utf-8")
        reporter = _ProgressReporter(config.steps, metrics_file, args.quiet)
        summary = train(spec, args.task, task_params, config, on_event=reporter, out_dir=args.out)
    except BadInput as exc:
        lines = exc.lines
    except (SpecInvalid, TaskParamsInvalid, TrainConfigInvalid) as exc:
        lines = _error_lines(exc)
    else:
        lines = None
    finally:
        if reporter is not None:
            reporter.close()
        if metrics_file is not None:
            metrics_file.close()
    if lines is not None:
        for line in lines:
            print(f"composer train: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(json_safe(summary), indent=2))
    return 0
