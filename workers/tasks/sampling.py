"""How tasks make batches (torch): seeded generators per batch, the hash split of train from eval,
finite training sets served in epochs, and small sampling helpers the ``*_data`` modules share.

Imported only through a task's ``make_batch`` (see ``workers.tasks.TaskType.batches``), never when tasks
are listed or their params checked.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Any, Callable

import torch

from workers.tasks import EVAL_BUCKETS, EVAL_CACHE_SIZE, POOL_CACHE_SIZE, POOL_CHUNK, SPLITS

# Generates ``n`` candidate examples: (params, generator, n) -> (x, y), each (n, seq_len).
Generate = Callable[[dict, torch.Generator, int], tuple[torch.Tensor, torch.Tensor]]


def batch_generator(task_name: str, seed: int, split: str, index: int) -> torch.Generator:
    """A generator seeded from (task, seed, split, index) alone, so every batch is reproducible."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    key = f"{task_name}|{int(seed)}|{split}|{int(index)}".encode()
    generator = torch.Generator()
    generator.manual_seed(int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") >> 1)
    return generator


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
