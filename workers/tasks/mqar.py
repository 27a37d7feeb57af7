"""Multi-query associative recall (MQAR), as in Zoology (Arora et al. 2023).

A sequence starts with ``num_kv_pairs`` key-value pairs ``k1 v1 k2 v2 ...`` (keys from
the first half of the vocabulary, values from the second, distinct within a sequence).
The rest of the sequence is noise with the keys queried again at positions drawn with
a power-law gap (recent queries are likelier, as in the paper); right after each
queried key the model must produce its value. Loss and accuracy count only there.
"""
from __future__ import annotations

import torch

from blocks.registry import Param
from workers.tasks import (
    IGNORE_INDEX, TRAIN_EXAMPLES, TaskType, distinct_tokens, power_law_weights, register, split_filtered,
)

NAME = "mqar"

PARAMS = (
    Param("vocab_size", "int", 256, "tokens; keys use [1, V/2), values [V/2, V)", min=16, max=65536),
    Param("seq_len", "int", 64, "sequence length (even)", min=8, max=65536),
    Param("num_kv_pairs", "int", 4, "key-value pairs to memorise and recall", min=1, max=4096),
    Param("power_a", "float", 0.01, "power-law exponent of the gap before each query (Zoology's default)",
          min=0.001, max=1.0),
    TRAIN_EXAMPLES,
)


def check(params: dict) -> list[tuple[str, str]]:
    problems = []
    vocab, seq_len, pairs = params["vocab_size"], params["seq_len"], params["num_kv_pairs"]
    if seq_len % 2:
        problems.append(("seq_len", f"must be even, got {seq_len}"))
    if 4 * pairs > seq_len:
        problems.append(("num_kv_pairs", f"needs 4 * num_kv_pairs <= seq_len (pairs plus their queries), "
                                         f"got 4 * {pairs} > {seq_len}"))
    if pairs > vocab // 2 - 1:
        problems.append(("num_kv_pairs", f"needs num_kv_pairs <= vocab_size / 2 - 1 = {vocab // 2 - 1} distinct keys"))
    if vocab <= seq_len:
        # Zoology keeps the vocabulary larger than the sequence so noise rarely repeats a key.
        problems.append(("vocab_size", f"must be larger than seq_len ({seq_len}), got {vocab}"))
    return problems


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


TASK = register(TaskType(
    name=NAME,
    title="Multi-query associative recall",
    description="Memorise key-value pairs, then recall the value after each queried key; "
                "tests in-context recall, where attention excels and fixed-state models struggle.",
    paper="Arora et al. 2023, Zoology: Measuring and Improving Recall in Efficient Language Models",
    params=PARAMS,
    vocab_size=lambda p: p["vocab_size"],
    seq_len=lambda p: p["seq_len"],
    make_batch=split_filtered(NAME, generate),
    check=check,
    tags=("recall", "synthetic"),
))
