"""Copying: read ``num_tokens`` random tokens, a separator, then repeat them in order.

The sequence is ``d1 .. dK SEP d1 .. dK`` fed with teacher forcing; labels are set
only on the second half (predict d_j after reading SEP d1 .. d_{j-1}). A fixed-lag
task: every model that can hold K tokens of context can solve it.

Tokens: 0 is the separator, data tokens are 1..vocab_size-1. seq_len = 2 * num_tokens.
"""
from __future__ import annotations

import torch

from blocks.registry import Param
from workers.tasks import (
    IGNORE_INDEX, MIN_DISTINCT_EXAMPLES, TRAIN_EXAMPLES, TaskType, register, split_filtered, too_few_examples,
)

NAME = "copy"
SEPARATOR = 0

PARAMS = (
    Param("num_tokens", "int", 16, "tokens to copy; the sequence is twice as long", min=1, max=32768),
    Param("vocab_size", "int", 16, "tokens: the separator plus vocab_size - 1 data tokens", min=3, max=65536),
    TRAIN_EXAMPLES,
)


def check(params: dict) -> list[tuple[str, str]]:
    count, vocab = params["num_tokens"], params["vocab_size"]
    distinct = min(MIN_DISTINCT_EXAMPLES, (vocab - 1) ** min(count, MIN_DISTINCT_EXAMPLES.bit_length()))
    return too_few_examples("num_tokens", distinct, f"num_tokens {count} and vocab_size {vocab}",
                            "raise num_tokens or vocab_size")


def generate(params: dict, generator: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    count, vocab = params["num_tokens"], params["vocab_size"]
    data = torch.randint(1, vocab, (n, count), generator=generator)
    separator = torch.full((n, 1), SEPARATOR, dtype=torch.long)
    full = torch.cat([data, separator, data], dim=1)  # (n, 2K + 1)
    x = full[:, :-1].contiguous()
    y = full[:, 1:].clone()
    # Before the separator has been read the next token is random (or the separator): no label.
    y[:, :count] = IGNORE_INDEX
    return x, y


TASK = register(TaskType(
    name=NAME,
    title="Copying",
    description="Read a run of random tokens and a separator, then reproduce the run in order.",
    paper="Arjovsky et al. 2016 (copy memory); Jelassi et al. 2024, Repeat After Me",
    params=PARAMS,
    vocab_size=lambda p: p["vocab_size"],
    seq_len=lambda p: 2 * p["num_tokens"],
    make_batch=split_filtered(NAME, generate),
    tags=("memory", "synthetic"),
    check=check,
))
