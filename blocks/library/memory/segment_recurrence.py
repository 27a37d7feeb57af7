"""Segment recurrence (Transformer-XL) (``segment_recurrence``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.memory.segment_recurrence_nn.SegmentRecurrentAttention``, is imported only when a model is built."""
from __future__ import annotations

from blocks.library.attention.common import (
    HEADS_PARAM,
    causal_keys_per_query,
    heads_check,
    make_cost,
    multi_head_params,
)
from blocks.library.memory.common import POSITION_PARAM
from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


def segment_recurrence_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    H, s = p["heads"], min(p["segment_len"], seq_len)
    # keys and values are projected twice per token: once as current, once as cache
    macs = 2 * d_model * d_model + 2 * (2 * d_model * d_model)
    return make_cost(multi_head_params(d_model, H, H, False), macs, d_model, H, seq_len, s + causal_keys_per_query(s),
                     kept_per_token=7 * d_model, scores_kept=H * seq_len * 2 * s)


def segment_recurrence_state(d_model: int, seq_len: int, p: dict) -> float:
    # Inputs of the previous complete segment (s) and of the current one (up to s - 1) between tokens.
    return float(BYTES_PER_FLOAT * min(seq_len, 2 * p["segment_len"] - 1) * d_model)


def segment_recurrence_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, p["position"] == "rope")
    if p["segment_len"] > max_seq_len:
        yield "segment_len", f"segment_len ({p['segment_len']}) must be <= max_seq_len ({max_seq_len})"


register(BlockType(
    name="segment_recurrence",
    family="memory",
    title="Segment recurrence (Transformer-XL)",
    description="Each segment attends to itself causally and to the stop-gradient cached states of the "
                "previous segment.",
    paper="Dai et al. 2019, Transformer-XL: Attentive Language Models Beyond a Fixed-Length Context",
    params=(
        HEADS_PARAM,
        Param("segment_len", "int", 8, "Tokens per segment; each token sees between segment_len and "
              "2·segment_len − 1 positions.", min=1, max=65536),
        POSITION_PARAM,
    ),
    module="blocks.library.memory.segment_recurrence_nn.SegmentRecurrentAttention",
    cost=segment_recurrence_cost,
    state=segment_recurrence_state,
    complexity="O(L·s)",
    causal=True,
    recurrent=True,
    check=segment_recurrence_check,
    tags=("softmax", "memory", "segment"),
))
