"""The training-task registry: one entry per synthetic or text task a spec can be trained on.

Each entry (``TaskType``) says what the task is, which parameters it takes (the
same ``Param`` class the blocks use), its vocabulary size and sequence length as
functions of those parameters, how it makes a batch, and which metrics it reports.

Batches are pure functions of ``(params, seed, split, index)``: the same arguments
always give the same tensors, on any machine, because every batch draws from its
own ``torch.Generator`` seeded from a hash of those arguments (never the global RNG).

Train and eval examples never coincide. Synthetic tasks partition the space of
examples by a hash of each example's tokens (``example_split``); a generator draws
candidates and keeps only those whose hash lands in the requested split. ``char_lm``
splits its corpus by position instead (the last tenth is held out).

Labels: ``x`` and ``y`` are int64 ``(batch, seq_len)``; ``y[b, t]`` is the token the
model must predict after reading ``x[b, :t+1]``, or -100 where no loss is taken.
That is the ``next_token`` objective, and such tasks are trained only with causal blocks.
A task whose ``objective`` is ``reconstruct`` (``compression``) instead labels ``y[b, t]``
with the token at ``t`` itself, to be rebuilt from one vector (see ``TaskType.objective``);
only those tasks accept non-causal blocks.

Finite training sets: a task with the ``train_examples`` param (``TRAIN_EXAMPLES``) draws,
when it is N > 0, a pool of N train-split examples once per (params, seed) and serves train
batches from it in epochs, reshuffled each epoch (``finite_train_set``); 0 means a fresh
example every time. Eval batches are unaffected, so eval still never meets a train example.

Uploaded corpora (for the runs/web side): ``char_lm`` takes an integer param
``corpus_id``; 0 is the corpus shipped in ``workers/data/``. Any other id is looked
up through a resolver the web app installs once at start-up::

    from workers.tasks.char_lm import corpus_from_upload, set_corpus_resolver
    def find_upload(corpus_id):
        upload = Upload.objects.filter(pk=corpus_id).first()
        return corpus_from_upload(upload.data, name=upload.name) if upload else None  # None: "not found"
    set_corpus_resolver(find_upload)

Resolved corpora are cached by id (a few at a time), so an upload must never change
under the same id.

``corpus_from_upload(data: bytes) -> Corpus`` checks an upload (UTF-8, non-empty,
at most ``MAX_UPLOAD_BYTES``) and raises ``CorpusInvalid`` with a message that says
what is wrong; call it when the user uploads, so bad files are refused at once.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable, Iterable

import torch

from blocks.registry import Param

SPLITS = ("train", "eval")
IGNORE_INDEX = -100
# One example in EVAL_BUCKETS belongs to the eval split; the rest to train.
EVAL_BUCKETS = 8
# Fewer distinct examples than this and one split may hash out empty (a run could not draw a
# batch) or hold a handful of examples repeated: tasks refuse such parameters up front.
MIN_DISTINCT_EXAMPLES = 64
# What a task trains for (TaskType.objective): predict the next token (causal blocks only), or
# rebuild the whole sequence from the hidden state at its last position (any block).
OBJECTIVES = ("next_token", "reconstruct")
# A finite training set is generated in chunks of this many examples (bounds peak memory) and
# kept for a few (task, params, seed) at a time; its size is capped in tokens.
POOL_CHUNK = 1024
POOL_CACHE_SIZE = 4
# Eval batches are the same at every evaluation of a run: the last few are kept.
EVAL_CACHE_SIZE = 64
MAX_POOL_TOKENS = 64 * 2**20

TRAIN_EXAMPLES = Param(
    "train_examples", "int", 0,
    "training set size: 0 draws a fresh example every step; N > 0 draws N once and iterates over "
    "them in epochs, reshuffled each epoch (MAD: 12,800 and fewer)", min=0, max=1_000_000)

# Generates ``n`` candidate examples: (params, generator, n) -> (x, y), each (n, seq_len).
Generate = Callable[[dict, torch.Generator, int], tuple[torch.Tensor, torch.Tensor]]
# Cross-field checks: params -> [(field, message)].
TaskCheck = Callable[[dict], Iterable[tuple[str, str]]]


class UnknownTask(KeyError):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown task {self.name!r}; known tasks: {', '.join(t.name for t in all_tasks())}"


@dataclass(frozen=True)
class TaskParamError:
    """One problem with a task's parameters. ``field`` is the param name (or ``task``)."""

    field: str
    message: str
    code: str = "invalid"

    def to_json(self) -> dict:
        return {"node_id": None, "field": f"task_params.{self.field}" if self.field != "task" else "task",
                "message": self.message, "code": self.code}

    def __str__(self) -> str:
        return f"{self.to_json()['field']}: {self.message}"


class TaskParamsInvalid(ValueError):
    """Raised by code that needs valid params (the trainer) when ``resolve_task_params`` found errors."""

    def __init__(self, errors: list[TaskParamError]):
        self.errors = list(errors)
        super().__init__("; ".join(str(e) for e in self.errors))


@dataclass(frozen=True)
class TaskType:
    """One entry of the task registry.

    make_batch(params, *, split, index, batch_size, seed) -> (x, y) int64 (batch, seq_len).
    vocab_size(params) / seq_len(params): what the model must accept.
    check(params) -> [(field, message)] for problems involving several params.
    objective: "next_token" (the default: y[t] follows x[:t+1], so the model must be causal and
        a spec with non-causal blocks is refused, whatever model.allow_noncausal says) or
        "reconstruct" (y[t] is x[t] itself, rebuilt by the trainer from the model's hidden state at
        the last position through a small decoder; non-causal blocks are allowed).
    eval_held_out: True when eval examples are held out from training (the hash split). False
        for a task whose eval asks about the very facts training teaches (memorization).
    """

    name: str
    title: str
    description: str
    paper: str
    params: tuple[Param, ...]
    vocab_size: Callable[[dict], int]
    seq_len: Callable[[dict], int]
    make_batch: Callable[..., tuple[torch.Tensor, torch.Tensor]]
    metrics: tuple[str, ...] = ("loss", "accuracy")
    check: TaskCheck | None = None
    tags: tuple[str, ...] = field(default_factory=tuple)
    objective: str = "next_token"
    eval_held_out: bool = True

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"task {self.name}: objective must be one of {OBJECTIVES}, got {self.objective!r}")

    @property
    def next_token(self) -> bool:
        """True when the task is next-token prediction: only causal blocks may be trained on it."""
        return self.objective == "next_token"

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def to_json(self) -> dict:
        """The public description served by ``GET /api/tasks/``."""
        defaults = self.defaults()
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "paper": self.paper,
            "params": [p.to_json() for p in self.params],
            "params_schema": {
                "type": "object",
                "additionalProperties": False,
                "properties": {p.name: p.json_schema() for p in self.params},
            },
            "metrics": list(self.metrics),
            "default_vocab_size": self.vocab_size(defaults),
            "default_seq_len": self.seq_len(defaults),
            "tags": list(self.tags),
            "objective": self.objective,
            "next_token": self.next_token,
            "eval_held_out": self.eval_held_out,
        }


_REGISTRY: dict[str, TaskType] = {}
_LOADED = False


def register(task: TaskType) -> TaskType:
    if task.name in _REGISTRY:
        raise ValueError(f"task {task.name!r} is registered twice")
    _REGISTRY[task.name] = task
    return task


def _ensure_loaded() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        # Each module registers its task on import.
        from workers.tasks import (  # noqa: F401
            char_lm, compression, copy, dyck, fuzzy_recall, in_context_recall, induction_heads, memorization, mqar,
            noisy_recall, selective_copy,
        )


def get_task(name: str) -> TaskType:
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownTask(name) from None


def all_tasks() -> list[TaskType]:
    _ensure_loaded()
    return sorted(_REGISTRY.values(), key=lambda t: t.name)


def tasks_json() -> list[dict]:
    return [t.to_json() for t in all_tasks()]


def resolve_task_params(name: str, given: dict | None) -> tuple[dict, list[TaskParamError]]:
    """Defaults overlaid with ``given``, checked. Returns (params, errors); never raises on bad data.

    Every problem is reported at once: unknown params, wrong types, out-of-range
    values, then (only when each param is fine on its own) the task's cross-field checks.
    """
    try:
        task = get_task(name)
    except UnknownTask as exc:
        return {}, [TaskParamError("task", str(exc), "unknown_task")]
    if given is None:
        given = {}
    if not isinstance(given, dict):
        return {}, [TaskParamError("task", "task params must be an object of name: value", "type")]
    params = task.defaults()
    errors: list[TaskParamError] = []
    for key, value in given.items():
        p = task.param(key)
        if p is None:
            known = ", ".join(q.name for q in task.params)
            errors.append(TaskParamError(str(key), f"unknown parameter of task {name!r} (known: {known})", "unknown_param"))
            continue
        problem = p.check(value)
        if problem:
            errors.append(TaskParamError(key, problem, "out_of_range" if "must be >=" in problem or "must be <=" in problem else "type"))
        else:
            params[key] = p.coerce(value)
    if not errors and task.check is not None:
        errors.extend(TaskParamError(f, m, "conflict") for f, m in task.check(params))
    if not errors and params.get("train_examples"):
        tokens = params["train_examples"] * task.seq_len(params)
        if tokens > MAX_POOL_TOKENS:
            errors.append(TaskParamError("train_examples", f"a training set of {params['train_examples']} examples of "
                                         f"{task.seq_len(params)} tokens ({tokens:,} tokens) exceeds the limit of "
                                         f"{MAX_POOL_TOKENS:,} tokens held in memory; use fewer examples, or 0 for "
                                         "fresh examples every step", "out_of_range"))
    return params, errors


# --- helpers shared by the task modules -------------------------------------------------


def batch_generator(task_name: str, seed: int, split: str, index: int) -> torch.Generator:
    """A generator seeded from (task, seed, split, index) alone, so every batch is reproducible."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    key = f"{task_name}|{int(seed)}|{split}|{int(index)}".encode()
    generator = torch.Generator()
    generator.manual_seed(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") >> 1)
    return generator


def too_few_examples(field: str, count: int, setting: str, remedy: str) -> list[tuple[str, str]]:
    """The cross-field problem for a task whose parameters allow only ``count`` distinct examples."""
    if count >= MIN_DISTINCT_EXAMPLES:
        return []
    return [(field, f"{setting} allow only {count} distinct example{'s' if count != 1 else ''}; at least "
                    f"{MIN_DISTINCT_EXAMPLES} are needed so that train and held-out eval examples both exist "
                    f"({remedy})")]


def example_split(x_row: torch.Tensor, y_row: torch.Tensor) -> str:
    """Which split an example belongs to, from a hash of its tokens and labels."""
    digest = hashlib.blake2b(x_row.numpy().tobytes() + b"|" + y_row.numpy().tobytes(), digest_size=8).digest()
    return "eval" if int.from_bytes(digest, "little") % EVAL_BUCKETS == 0 else "train"


def split_filtered_batch(
    task_name: str, generate: Generate, params: dict, *, split: str, index: int, batch_size: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw candidates with ``generate`` and keep those whose hash puts them in ``split``.

    Rejection costs little: eval keeps 1 candidate in 8, so we draw 8x plus a margin
    for it and 1.25x for train, repeating until the batch is full.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    generator = batch_generator(task_name, seed, split, index)
    keep_x: list[torch.Tensor] = []
    keep_y: list[torch.Tensor] = []
    per_draw = batch_size * (EVAL_BUCKETS + 2) if split == "eval" else batch_size + batch_size // 4 + 2
    for _ in range(1000):
        xs, ys = generate(params, generator, per_draw)
        for x_row, y_row in zip(xs, ys):
            if example_split(x_row, y_row) == split:
                keep_x.append(x_row)
                keep_y.append(y_row)
                if len(keep_x) == batch_size:
                    return torch.stack(keep_x), torch.stack(keep_y)
    raise RuntimeError(f"task {task_name}: could not fill a {split} batch (the example space is too small)")


def split_filtered(task_name: str, generate: Generate):
    """The ``make_batch`` of a task that generates candidate examples: ``split_filtered_batch``
    over ``generate``, so every generated task splits train from eval the same way (and takes a
    finite training set when its params include ``train_examples``)."""
    def make_batch(params: dict, *, split: str, index: int, batch_size: int, seed: int):
        return split_filtered_batch(task_name, generate, params, split=split, index=index, batch_size=batch_size,
                                    seed=seed)

    return finite_train_set(task_name, make_batch)


# --- finite training sets ---------------------------------------------------------------------

MakeBatch = Callable[..., tuple[torch.Tensor, torch.Tensor]]


class _Lru:
    """A small thread-safe least-recently-used cache of values built on a miss."""

    def __init__(self, size: int):
        self.size = size
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key, build: Callable[[], Any]):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
        value = build()
        with self.lock:
            self.items[key] = value
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return value


_pools = _Lru(POOL_CACHE_SIZE)
_eval_batches = _Lru(EVAL_CACHE_SIZE)


def _compact(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) in the narrowest integer type that holds both (tokens and the -100 of labels)."""
    dtype = torch.int16 if max(int(x.max()), int(y.max())) < 2**15 else torch.int32
    return x.to(dtype), y.to(dtype)


def finite_train_set(task_name: str, make_batch: MakeBatch) -> MakeBatch:
    """Wrap ``make_batch`` so that, when ``params["train_examples"]`` is N > 0, train batches come
    from a fixed pool of N train examples (``train_pool``) in epochs: example number
    ``s = index * batch_size + b`` of the stream is ``pool[order(epoch)[offset]]`` with
    ``(epoch, offset) = divmod(s, N)``, so each epoch shows every example once, in an order
    reshuffled per epoch. Train batches when N is 0 are ``make_batch``'s own; eval batches are too,
    kept in a small cache since every evaluation asks for the same ones again."""
    def pooled(params: dict, *, split: str, index: int, batch_size: int, seed: int):
        count = params.get("train_examples") or 0
        if split == "eval":
            x, y = _eval_batches.get(
                (task_name, int(seed), json.dumps(params, sort_keys=True), int(index), int(batch_size)),
                lambda: _compact(*make_batch(params, split=split, index=index, batch_size=batch_size, seed=seed)))
            return x.long(), y.long()
        if split != "train" or count <= 0:
            return make_batch(params, split=split, index=index, batch_size=batch_size, seed=seed)
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        pool_x, pool_y = train_pool(task_name, make_batch, params, seed)
        rows = pool_rows(task_name, seed, count, index, batch_size)
        return pool_x[rows].long(), pool_y[rows].long()

    return pooled


def train_pool(task_name: str, make_batch: MakeBatch, params: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The N = ``params["train_examples"]`` training examples of (task, params, seed), drawn once from
    the train split in chunks at negative batch indices (which the trainer never asks for), then
    cached (the last ``POOL_CACHE_SIZE``) in the narrowest integer type that holds them."""
    def draw() -> tuple[torch.Tensor, torch.Tensor]:
        count = params["train_examples"]
        chunks = [_compact(*make_batch(params, split="train", index=-1 - chunk,
                                       batch_size=min(POOL_CHUNK, count - start), seed=seed))
                  for chunk, start in enumerate(range(0, count, POOL_CHUNK))]
        dtype = torch.int32 if any(x.dtype == torch.int32 for x, _ in chunks) else torch.int16
        return torch.cat([x.to(dtype) for x, _ in chunks]), torch.cat([y.to(dtype) for _, y in chunks])

    return _pools.get((task_name, int(seed), json.dumps(params, sort_keys=True)), draw)


def pool_position(index: int, batch_size: int, count: int) -> tuple[int, int]:
    """(epoch, offset) of the first example of train batch ``index`` in a pool of ``count``."""
    return divmod(index * batch_size, count)


def pool_rows(task_name: str, seed: int, count: int, index: int, batch_size: int) -> torch.Tensor:
    """Pool row of each example of train batch ``index`` (a batch may straddle two epochs)."""
    epoch, offset = pool_position(index, batch_size, count)
    rows = []
    while batch_size > 0:
        take = min(batch_size, count - offset)
        rows.append(epoch_order(task_name, seed, count, epoch)[offset:offset + take])
        batch_size -= take
        epoch, offset = epoch + 1, 0
    return torch.cat(rows)


@lru_cache(maxsize=8)
def epoch_order(task_name: str, seed: int, count: int, epoch: int) -> torch.Tensor:
    """The order in which epoch ``epoch`` visits a pool of ``count`` examples (a permutation)."""
    return torch.randperm(count, generator=batch_generator(f"{task_name}/epoch", seed, "train", epoch))


def next_token_train_labels(make_batch: MakeBatch) -> MakeBatch:
    """MAD's training targets: on the train split every position is labelled with the next input
    token (the last position keeps its own label), while eval keeps ``make_batch``'s labels, which
    score only the positions the task is about (recalled values). Apply it outside
    ``finite_train_set`` so pools and the hash split see the task's own labels."""
    def relabelled(params: dict, *, split: str, index: int, batch_size: int, seed: int):
        x, y = make_batch(params, split=split, index=index, batch_size=batch_size, seed=seed)
        if split == "train":
            y = torch.cat([x[:, 1:], y[:, -1:]], dim=1)
        return x, y

    return relabelled


def power_law_weights(n: int, alpha: float) -> torch.Tensor:
    """Weights p(g) proportional to alpha * g**(alpha - 1) for g = 1..n (Zoology's query gaps)."""
    gaps = torch.arange(1, n + 1, dtype=torch.float64)
    weights = alpha * gaps ** (alpha - 1)
    return weights / weights.sum()


def distinct_tokens(generator: torch.Generator, n: int, count: int, low: int, high: int) -> torch.Tensor:
    """``count`` distinct tokens per row from [low, high), shape (n, count)."""
    order = torch.rand(n, high - low, generator=generator).argsort(dim=1)
    return order[:, :count] + low
