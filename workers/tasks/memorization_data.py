"""Batches of ``memorization`` (torch); the task's entry is ``workers.tasks.memorization``."""
from __future__ import annotations

from functools import lru_cache

import torch

from workers.tasks import IGNORE_INDEX
from workers.tasks.memorization import NAME, num_keys
from workers.tasks.sampling import batch_generator, finite_train_set


@lru_cache(maxsize=16)
def table(vocab: int, table_seed: int) -> torch.Tensor:
    """The value of each key: (K,) distinct tokens from [K, vocab - 1)."""
    keys = num_keys(vocab)
    generator = torch.Generator()
    generator.manual_seed(table_seed)
    return torch.randperm(vocab - 1 - keys, generator=generator)[:keys] + keys


@lru_cache(maxsize=16)
def eval_order(vocab: int, seed: int) -> torch.Tensor:
    """The fixed order in which eval examples walk through the keys."""
    return torch.randperm(num_keys(vocab), generator=batch_generator(f"{NAME}/eval-order", seed, "eval", 0))


def sequences(params: dict, keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) for rows of queried keys (n, P): x = k INSERT k INSERT ..., y = value at each insert."""
    vocab = params["vocab_size"]
    n, queries = keys.shape
    x = torch.full((n, 2 * queries), vocab - 1, dtype=torch.long)
    x[:, 0::2] = keys
    y = torch.full_like(x, IGNORE_INDEX)
    y[:, 1::2] = table(vocab, params["table_seed"])[keys]
    return x, y


def make_split_batch(params: dict, *, split: str, index: int, batch_size: int, seed: int):
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    vocab, queries = params["vocab_size"], params["seq_len"] // 2
    generator = batch_generator(NAME, seed, split, index)  # also checks the split name
    if split == "train":
        keys = torch.randint(0, num_keys(vocab), (batch_size, queries), generator=generator)
    else:
        first = (index * batch_size + torch.arange(batch_size)) * queries
        slots = (first[:, None] + torch.arange(queries)) % num_keys(vocab)
        keys = eval_order(vocab, seed)[slots]
    return sequences(params, keys)


make_batch = finite_train_set(NAME, make_split_batch)
