"""Batches of ``mqar`` (torch); the task's entry is ``workers.tasks.mqar``."""
from __future__ import annotations

import torch

from workers.tasks import IGNORE_INDEX
from workers.tasks.mqar import NAME
from workers.tasks.sampling import distinct_tokens, power_law_weights, split_filtered


def generate(params: dict, generator: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    vocab, seq_len, pairs = params["vocab_size"], params["seq_len"], params["num_kv_pairs"]
    context = 2 * pairs
    half = vocab // 2
    keys = distinct_tokens(generator, n, pairs, 1, half)  # (n, pairs)
    values = distinct_tokens(generator, n, pairs, half, vocab)  # (n, pairs)

    # Build one token longer than seq_len and shift by one, as the reference code does.
    full = torch.randint(0, vocab, (n, seq_len + 1), generator=generator)
    full[:, 0:context:2] = keys
    full[:, 1:context:2] = values
    labels = torch.full((n, seq_len + 1), IGNORE_INDEX, dtype=torch.long)

    # Query gaps g in 0..(seq_len - context)/2 - 1 without replacement (weight of g is that of
    # g + 1 in the power law); the query key sits at context + 2g and its value is the label
    # of that position, i.e. predicted right after reading the key.
    num_gaps = (seq_len - context) // 2
    weights = power_law_weights(num_gaps, params["power_a"]).expand(n, -1)
    gaps = torch.multinomial(weights, pairs, replacement=False, generator=generator)  # (n, pairs)
    query_pos = context + 2 * gaps  # within full, 0-based; <= seq_len - 2
    full.scatter_(1, query_pos, keys)
    labels.scatter_(1, query_pos + 1, values)
    return full[:, :-1].contiguous(), labels[:, 1:].contiguous()


make_batch = split_filtered(NAME, generate)
