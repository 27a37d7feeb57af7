"""Selective copying, as in the Mamba paper (Gu & Dao 2023, section 3.1).

``num_tokens`` data tokens are scattered at random positions among noise tokens in
the first ``seq_len - num_tokens`` positions; then come ``num_tokens`` marker tokens,
at which the model must output the data tokens in their original order. Unlike plain
copying the spacing varies, so a time-invariant (LTI) model cannot solve it: the
model has to select what to remember by content.

Tokens: 0 is noise, 1 is the marker, data tokens are 2..vocab_size-1.

MAD's selective copying (Poli et al. 2024, "Mechanistic Design and Scaling of Hybrid
Architectures"; repository athms/mad-lab, ``generate_selective_copying_instance``) maps onto these
params one for one: ``vocab_size`` (16; harder 32, 64, 128: likewise two special tokens and
vocab_size - 2 data tokens), ``seq_len`` (256; 512, 1024), ``num_tokens`` = MAD's
``num_tokens_to_copy`` (16; 32, 64, 96) and ``train_examples`` = ``num_train_examples`` (12,800;
6,400 to 800), the one setting this task could not express before. The layout differs in detail:
MAD marks the answer with one copy token followed by blank tokens (the blank doubling as noise),
and its scattering never leaves noise after the last data token; here each answer position is a
marker, and data tokens land anywhere in the scattered region.

The registry entry is plain Python (params, checks, vocabulary and length); batches are made by
``workers.tasks.selective_copy_data``, imported only when a run draws one.
"""
from __future__ import annotations

import math

from blocks.registry import Param
from workers.tasks import MIN_DISTINCT_EXAMPLES, TRAIN_EXAMPLES, TaskType, register, too_few_examples


NAME = "selective_copy"
NOISE, MARKER, FIRST_DATA = 0, 1, 2

PARAMS = (
    Param("seq_len", "int", 64, "total length: the scattered region plus num_tokens markers", min=8, max=65536),
    Param("num_tokens", "int", 8, "data tokens to remember and reproduce in order", min=1, max=4096),
    Param("vocab_size", "int", 16, "tokens: noise, marker and vocab_size - 2 data tokens", min=4, max=65536),
    TRAIN_EXAMPLES,
)


def check(params: dict) -> list[tuple[str, str]]:
    seq_len, count, vocab = params["seq_len"], params["num_tokens"], params["vocab_size"]
    if 2 * count > seq_len:
        return [("num_tokens", f"needs 2 * num_tokens <= seq_len (room to scatter and to answer), "
                               f"got 2 * {count} > {seq_len}")]
    return too_few_examples("num_tokens", distinct_examples(seq_len, count, vocab),
                            f"seq_len {seq_len}, num_tokens {count} and vocab_size {vocab}",
                            "raise seq_len, num_tokens or vocab_size")


def distinct_examples(seq_len: int, count: int, vocab: int, cap: int = MIN_DISTINCT_EXAMPLES) -> int:
    """Placements of ``count`` data tokens in the region times their values, or ``cap`` if more
    (estimated in log space first, so long sequences cost no big-number arithmetic)."""
    region, values = seq_len - count, vocab - FIRST_DATA
    log_count = (math.lgamma(region + 1) - math.lgamma(count + 1) - math.lgamma(region - count + 1)
                 + count * math.log(values))
    if log_count > math.log(cap) + 1:
        return cap
    return min(cap, math.comb(region, count) * values**count)


TASK = register(TaskType(
    name=NAME,
    title="Selective copying",
    description="Data tokens scattered among noise; reproduce them in order at the end. "
                "Needs content-dependent memory (selection), which time-invariant models lack.",
    paper="Gu & Dao 2023, Mamba: Linear-Time Sequence Modeling with Selective State Spaces",
    params=PARAMS,
    vocab_size=lambda p: p["vocab_size"],
    seq_len=lambda p: p["seq_len"],
    batches="workers.tasks.selective_copy_data.make_batch",
    check=check,
    tags=("memory", "synthetic"),
))
