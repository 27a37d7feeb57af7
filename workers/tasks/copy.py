"""Copying: read ``num_tokens`` random tokens, a separator, then repeat them in order.

The sequence is ``d1 .. dK SEP d1 .. dK`` fed with teacher forcing; labels are set
only on the second half (predict d_j after reading SEP d1 .. d_{j-1}). A fixed-lag
task: every model that can hold K tokens of context can solve it.

Tokens: 0 is the separator, data tokens are 1..vocab_size-1. seq_len = 2 * num_tokens.

The registry entry is plain Python (params, checks, vocabulary and length); batches are made by
``workers.tasks.copy_data``, imported only when a run draws one.
"""
from __future__ import annotations

from blocks.registry import Param
from workers.tasks import MIN_DISTINCT_EXAMPLES, TRAIN_EXAMPLES, TaskType, register, too_few_examples


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


TASK = register(TaskType(
    name=NAME,
    title="Copying",
    description="Read a run of random tokens and a separator, then reproduce the run in order.",
    paper="Arjovsky et al. 2016 (copy memory); Jelassi et al. 2024, Repeat After Me",
    params=PARAMS,
    vocab_size=lambda p: p["vocab_size"],
    seq_len=lambda p: 2 * p["num_tokens"],
    batches="workers.tasks.copy_data.make_batch",
    tags=("memory", "synthetic"),
    check=check,
))
