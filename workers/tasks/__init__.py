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

import importlib
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

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

    batches: dotted path ("package.module.name") of the task's batch function, in the task's
        ``<task>_data.py`` module, which imports torch; it is imported on the first ``make_batch``,
        so listing and checking tasks (the web process) never imports torch.
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
    batches: str
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

    def batch_function(self) -> Callable[..., Any]:
        """The function ``batches`` names, imported now (this imports torch)."""
        module_name, _, attribute = self.batches.rpartition(".")
        return getattr(importlib.import_module(module_name), attribute)

    def make_batch(self, params: dict, *, split: str, index: int, batch_size: int, seed: int) -> Any:
        """One batch (x, y) of int64 tensors (batch_size, seq_len); see the class docstring."""
        return self.batch_function()(params, split=split, index=index, batch_size=batch_size, seed=seed)

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


DATA_MODULE_SUFFIX = "_data"
# Modules of this package that hold no task: the batch helpers the ``*_data`` modules share.
HELPER_MODULES = ("sampling",)


def task_modules() -> list[str]:
    """Dotted names of the modules that register a task (plain Python: no ``*_data`` module)."""
    return sorted(f"{__name__}.{m.name}" for m in pkgutil.iter_modules(__path__)
                  if not m.name.endswith(DATA_MODULE_SUFFIX) and m.name not in HELPER_MODULES)


def _ensure_loaded() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        for name in task_modules():  # each registers its task on import
            importlib.import_module(name)


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


# --- helpers shared by the task modules' checks ---------------------------------------


def too_few_examples(field: str, count: int, setting: str, remedy: str) -> list[tuple[str, str]]:
    """The cross-field problem for a task whose parameters allow only ``count`` distinct examples."""
    if count >= MIN_DISTINCT_EXAMPLES:
        return []
    return [(field, f"{setting} allow only {count} distinct example{'s' if count != 1 else ''}; at least "
                    f"{MIN_DISTINCT_EXAMPLES} are needed so that train and held-out eval examples both exist "
                    f"({remedy})")]
