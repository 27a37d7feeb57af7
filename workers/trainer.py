"""The training loop shared by the CLI (`composer train`) and the Celery worker.

``train(spec, task, task_params, config)`` compiles a spec, trains it on a task with
AdamW (linear warm-up, cosine decay, gradient clipping) until a budget runs out
(steps, wall seconds or tokens, whichever comes first) or ``should_stop()`` says so,
evaluates on held-out batches every ``eval_every`` steps, reports every step through
``on_event``, and writes a safetensors checkpoint with the spec and summary beside it.

It knows nothing of Celery or Django: callers turn events into database rows,
websocket messages or progress bars. With the same spec, seed and device the loss
curve is bit-for-bit the same on CPU: the model is built from the seed, batches are
pure functions of (seed, split, index), and nothing else draws random numbers.
"""
from __future__ import annotations

import math
import os
import resource
import sys
import time
from dataclasses import asdict, dataclass, fields
from typing import Any, Callable

import torch
import torch.nn.functional as F

from blocks.optim import param_groups
from workers.environment import device_name as name_of_device, library_versions
from workers.tasks import IGNORE_INDEX, TaskParamError, TaskParamsInvalid, TaskType, get_task, resolve_task_params, UnknownTask

DEVICE_CHOICES = ("auto", "cpu", "cuda")
# Cosine decay ends at this fraction of the peak learning rate, not zero, so late steps still learn.
MIN_LR_FRACTION = 0.1

OnEvent = Callable[[dict], None]
ShouldStop = Callable[[], bool]
BuildModel = Callable[..., torch.nn.Module]


class TrainConfigInvalid(ValueError):
    """Bad training hyper-parameters. ``errors`` is a list of {"field", "message"} (field like ``config.lr``)."""

    def __init__(self, errors: list[dict]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


@dataclass
class TrainConfig:
    steps: int = 200
    batch_size: int = 16
    lr: float = 3e-3
    weight_decay: float = 0.1
    warmup_steps: int = 20
    grad_clip: float = 1.0
    seed: int = 0
    eval_every: int = 50
    eval_batches: int = 4
    max_seconds: float | None = None
    max_tokens: int | None = None
    device: str | None = None
    # Stop once an evaluation reaches this accuracy (MAD stops at 0.999): stopped = "target".
    stop_at_accuracy: float | None = None

    @classmethod
    def from_dict(cls, values: dict | None) -> "TrainConfig":
        """Build from JSON (a run's hyper-parameters); unknown keys are an error naming the key."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TrainConfigInvalid([{"field": f"config.{k}", "message": f"unknown setting (known: {', '.join(sorted(known))})"}
                                      for k in unknown])
        config = cls(**values)
        config.validate()
        return config

    def validate(self) -> None:
        errors = []

        def need(name: str, ok: bool, message: str) -> None:
            if not ok:
                errors.append({"field": f"config.{name}", "message": message})

        def is_int(value: Any) -> bool:
            return isinstance(value, int) and not isinstance(value, bool)

        def is_number(value: Any) -> bool:
            return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

        need("steps", is_int(self.steps) and self.steps >= 1, "must be an integer >= 1")
        need("batch_size", is_int(self.batch_size) and 1 <= self.batch_size <= 4096, "must be an integer in 1..4096")
        need("lr", is_number(self.lr) and 0 < self.lr <= 1, "must be a number in (0, 1]")
        need("weight_decay", is_number(self.weight_decay) and 0 <= self.weight_decay <= 10, "must be a number in [0, 10]")
        need("warmup_steps", is_int(self.warmup_steps) and self.warmup_steps >= 0, "must be an integer >= 0")
        need("grad_clip", is_number(self.grad_clip) and self.grad_clip >= 0, "must be a number >= 0 (0 turns clipping off)")
        need("seed", is_int(self.seed) and 0 <= self.seed < 2**63, "must be an integer >= 0")
        need("eval_every", is_int(self.eval_every) and self.eval_every >= 1, "must be an integer >= 1")
        need("eval_batches", is_int(self.eval_batches) and self.eval_batches >= 1, "must be an integer >= 1")
        need("max_seconds", self.max_seconds is None or (is_number(self.max_seconds) and self.max_seconds > 0),
             "must be a number > 0, or null for no time limit")
        need("max_tokens", self.max_tokens is None or (is_int(self.max_tokens) and self.max_tokens > 0),
             "must be an integer > 0, or null for no token limit")
        need("device", self.device is None or self.device in DEVICE_CHOICES, f"must be one of {list(DEVICE_CHOICES)}")
        need("stop_at_accuracy", self.stop_at_accuracy is None
             or (is_number(self.stop_at_accuracy) and 0 < self.stop_at_accuracy <= 1),
             "must be a number in (0, 1], or null to train every step")
        if errors:
            raise TrainConfigInvalid(errors)

    def to_json(self) -> dict:
        return asdict(self)


def select_device(requested: str | None = None) -> torch.device:
    """config.device beats env COMPOSER_DEVICE beats auto (cuda when available, else cpu)."""
    choice = requested or os.environ.get("COMPOSER_DEVICE") or "auto"
    if choice not in DEVICE_CHOICES:
        raise TrainConfigInvalid([{"field": "config.device" if requested else "COMPOSER_DEVICE",
                                   "message": f"must be one of {list(DEVICE_CHOICES)}, got {choice!r}"}])
    if choice == "auto":
        choice = "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise TrainConfigInvalid([{"field": "config.device", "message": "cuda was asked for but no CUDA device is available"}])
    return torch.device(choice)


def lr_at(step: int, config: TrainConfig) -> float:
    """Linear warm-up to ``lr`` over ``warmup_steps``, then cosine decay to MIN_LR_FRACTION * lr at the last step."""
    if config.warmup_steps and step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    decay_steps = max(1, config.steps - config.warmup_steps)
    progress = min(1.0, (step - config.warmup_steps) / decay_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * progress))
    return config.lr * (MIN_LR_FRACTION + (1 - MIN_LR_FRACTION) * cosine)


def compile_model(spec: dict, *, vocab_size: int, seed: int, causal: bool | None = None) -> torch.nn.Module:
    from blocks.compiler import compile_spec  # imported late: the trainer is testable before blocks land

    return compile_spec(spec, vocab_size=vocab_size, seed=seed, causal=causal)


def build_task_model(spec: dict, task_type: TaskType, params: dict, *, vocab_size: int, seed: int,
                     build_model: BuildModel | None = None) -> torch.nn.Module:
    """The module the trainer optimises for ``task_type``.

    The spec is compiled for the task's objective: a next-token task refuses blocks that see the
    future (whatever model.allow_noncausal says; SpecInvalid names the node), a reconstruct task
    (compression) accepts them. For ``objective == "reconstruct"`` the model is then wrapped as the
    encoder of ``ReconstructionModel`` (workers/tasks/compression.py), whose decoder rebuilds the
    sequence from the hidden state at the last position, so the loop below trains it unchanged.
    """
    if build_model is None:
        model = compile_model(spec, vocab_size=vocab_size, seed=seed, causal=task_type.next_token)
    else:
        model = build_model(spec, vocab_size=vocab_size, seed=seed)
    if task_type.objective == "reconstruct":
        from workers.tasks.compression_data import ReconstructionModel

        model = ReconstructionModel(model, seq_len=task_type.seq_len(params))
    return model


def _aux_loss(model: torch.nn.Module) -> torch.Tensor | None:
    aux = getattr(model, "aux_loss", None)
    if not callable(aux):
        return None
    value = aux()
    # A constant (no grad) means no block contributed one, e.g. a model without MoE: nothing to report.
    if value is None or not torch.is_tensor(value) or not value.requires_grad:
        return None
    return value


def _memory_bytes(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    # Peak resident set size of this process: Linux reports KiB, macOS bytes.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return torch.autocast("cpu", enabled=False)


def _loss_and_correct(logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """Mean cross-entropy over labelled positions, plus (correct, labelled) counts for accuracy."""
    logits = logits.float()
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), y.reshape(-1), ignore_index=IGNORE_INDEX)
    mask = y != IGNORE_INDEX
    correct = int(((logits.argmax(dim=-1) == y) & mask).sum())
    return loss, correct, int(mask.sum())


@torch.no_grad()
def evaluate(model, task: TaskType, params: dict, config: TrainConfig, device: torch.device) -> dict:
    """Loss (averaged over labelled positions) and accuracy on ``eval_batches`` held-out batches."""
    was_training = model.training
    model.eval()
    total_loss, total_correct, total_labels = 0.0, 0, 0
    for index in range(config.eval_batches):
        x, y = task.make_batch(params, split="eval", index=index, batch_size=config.batch_size, seed=config.seed)
        x, y = x.to(device), y.to(device)
        with _autocast(device):
            logits = model(x)
        loss, correct, labelled = _loss_and_correct(logits, y)
        total_loss += float(loss) * labelled
        total_correct += correct
        total_labels += labelled
    model.train(was_training)
    loss = total_loss / max(1, total_labels)
    result = {"loss": loss, "accuracy": total_correct / max(1, total_labels)}
    if "bits_per_byte" in task.metrics:
        result["bits_per_byte"] = loss / math.log(2)
    return result


def resolve_task(task: str | TaskType, task_params: dict | None) -> tuple[TaskType, dict]:
    """The task entry and its checked params; raises TaskParamsInvalid naming each bad field."""
    name = task.name if isinstance(task, TaskType) else task
    try:
        task_type = get_task(name)
    except UnknownTask as exc:
        raise TaskParamsInvalid([TaskParamError("task", str(exc), "unknown_task")]) from None
    params, errors = resolve_task_params(name, task_params)
    if errors:
        raise TaskParamsInvalid(errors)
    return task_type, params


def train(
    spec: dict,
    task: str | TaskType,
    task_params: dict | None,
    config: TrainConfig | dict | None = None,
    *,
    on_event: OnEvent | None = None,
    should_stop: ShouldStop | None = None,
    out_dir: str | os.PathLike | None = None,
    build_model: BuildModel | None = None,
) -> dict:
    """Train ``spec`` on ``task`` and return the summary (see docs/ARCHITECTURE.md, Trainer).

    Raises TaskParamsInvalid, TrainConfigInvalid or blocks' SpecInvalid (each naming the
    bad field) before any training starts. ``build_model(spec, vocab_size=, seed=)``
    replaces the compiler (tests use it to train a hand-written module through this loop).
    """
    started = time.perf_counter()
    if not isinstance(config, TrainConfig):
        config = TrainConfig.from_dict(config)
    config.validate()
    task_type, params = resolve_task(task, task_params)
    device = select_device(config.device)
    emit = on_event or (lambda event: None)
    vocab_size = task_type.vocab_size(params)
    seq_len = task_type.seq_len(params)

    max_seq_len = (spec.get("model") or {}).get("max_seq_len") if isinstance(spec, dict) else None
    if isinstance(max_seq_len, int) and seq_len > max_seq_len:
        raise TaskParamsInvalid([TaskParamError(
            "seq_len", f"task sequence length {seq_len} exceeds the spec's model.max_seq_len {max_seq_len}", "conflict")])

    # Seed the global RNG too: blocks may initialise weights from it during construction.
    torch.manual_seed(config.seed)
    model = build_task_model(spec, task_type, params, vocab_size=vocab_size, seed=config.seed, build_model=build_model)
    model.to(device)
    model.train()
    n_params = sum(p.numel() for p in model.parameters())
    # Which parameters are decayed, and which train at a capped learning rate, is the blocks' call
    # (blocks.optim): SSM state and implicit filters as their reference code marks them.
    optimizer = torch.optim.AdamW(param_groups(model, weight_decay=config.weight_decay, lr=config.lr),
                                  lr=config.lr, betas=(0.9, 0.95), fused=device.type == "cuda" or None)
    device_name = name_of_device(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    emit({"type": "log", "message": f"training {n_params:,} parameters on {device.type} ({device_name}); "
                                    f"task {task_type.name} {params}; {config.steps} steps of {config.batch_size}x{seq_len} tokens"})

    tokens_per_step = config.batch_size * seq_len
    tokens_seen = 0
    train_seconds = 0.0
    # Forward, backward and optimizer step alone: the rest of wall time (batches, evaluation,
    # events, checkpoint) is the worker's overhead, which bench/report_card.py reports.
    compute_seconds = 0.0
    loop_started = time.perf_counter()
    last_train_loss: float | None = None
    last_eval: dict | None = None
    last_eval_step = 0
    stopped = "steps"
    steps_done = 0
    for step in range(config.steps):
        if should_stop is not None and should_stop():
            stopped = "cancelled"
            break
        if config.max_seconds is not None and time.perf_counter() - loop_started >= config.max_seconds:
            stopped = "time"
            break
        if config.max_tokens is not None and tokens_seen + tokens_per_step > config.max_tokens:
            stopped = "tokens"
            break
        step_started = time.perf_counter()
        lr = lr_at(step, config)
        for group in optimizer.param_groups:
            group["lr"] = lr * group["lr_scale"]
        x, y = task_type.make_batch(params, split="train", index=step, batch_size=config.batch_size, seed=config.seed)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        compute_started = time.perf_counter()
        with _autocast(device):
            logits = model(x)
        loss, _, _ = _loss_and_correct(logits, y)
        aux = _aux_loss(model)
        total = loss + aux.float() if aux is not None else loss
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        clip = config.grad_clip if config.grad_clip > 0 else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(model.parameters(), clip))
        optimizer.step()
        compute_seconds += time.perf_counter() - compute_started
        steps_done = step + 1
        tokens_seen += tokens_per_step
        train_seconds += time.perf_counter() - step_started
        last_train_loss = float(loss.detach())
        event = {
            "type": "metrics", "step": steps_done, "split": "train", "loss": last_train_loss, "lr": lr,
            "grad_norm": grad_norm, "tokens_per_s": tokens_seen / max(train_seconds, 1e-9),
            "elapsed_s": time.perf_counter() - started, "tokens": tokens_seen,
            "memory_bytes": _memory_bytes(device),
        }
        if aux is not None:
            event["aux_loss"] = float(aux.detach())
        emit(event)
        if not math.isfinite(last_train_loss):
            # Nothing more can be learned once the weights hold NaN/inf; say so instead of burning the budget.
            emit({"type": "log", "message": f"loss became {last_train_loss} at step {steps_done}; stopping"})
            stopped = "diverged"
            break
        if steps_done % config.eval_every == 0:
            last_eval, last_eval_step = evaluate(model, task_type, params, config, device), steps_done
            emit({"type": "metrics", "step": steps_done, "split": "eval", **last_eval})
            if config.stop_at_accuracy is not None and last_eval["accuracy"] >= config.stop_at_accuracy:
                stopped = "target"
                break

    # A final evaluation unless cancelled (the user wants the worker back now) or already done.
    if stopped not in ("cancelled", "diverged") and steps_done > last_eval_step:
        last_eval, last_eval_step = evaluate(model, task_type, params, config, device), steps_done
        emit({"type": "metrics", "step": steps_done, "split": "eval", **last_eval})

    wall_seconds = time.perf_counter() - started
    summary = {
        "final_train_loss": last_train_loss,
        "final_eval_loss": last_eval["loss"] if last_eval else None,
        "eval_accuracy": last_eval["accuracy"] if last_eval else None,
        "params": n_params,
        "tokens_per_s": tokens_seen / max(train_seconds, 1e-9) if tokens_seen else 0.0,
        "wall_seconds": wall_seconds,
        "compute_seconds": compute_seconds,
        "steps": steps_done,
        "tokens": tokens_seen,
        "stopped": stopped,
        "device": device.type,
        "device_name": device_name,
        "versions": library_versions(),
        "checkpoint": None,
        "task": task_type.name,
        "task_params": params,
        "vocab_size": vocab_size,
        "seq_len": seq_len,
        "seed": config.seed,
        "config": config.to_json(),
        "memory_bytes": _memory_bytes(device),
    }
    if last_eval and "bits_per_byte" in last_eval:
        summary["eval_bits_per_byte"] = last_eval["bits_per_byte"]
    if out_dir is not None:
        from workers.checkpoint import save_checkpoint

        summary["checkpoint"] = str(save_checkpoint(out_dir, model, spec, summary))
    emit({"type": "log", "message": f"stopped ({stopped}) after {steps_done} steps in {wall_seconds:.1f}s"})
    return summary
