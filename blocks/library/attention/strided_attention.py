"""Strided sparse attention (``strided_attention``, Sparse Transformer): its registry entry with params,
cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.attention.strided_attention_nn.StridedAttention``, is imported only when a model is built."""
from __future__ import annotations

import math

from blocks.library.attention.bigbird_attention import full_kv_cache_state
from blocks.library.attention.common import (
    HEADS_PARAM,
    ROTARY_POSITION_PARAM,
    heads_check,
    make_cost,
    multi_head_params,
)
from blocks.registry import BlockType, Cost, Param, register


def strided_stride_default(d_model: int, max_seq_len: int, p: dict) -> int:
    """l = √L (rounded down), the paper's choice: each query then scores about 2√L keys."""
    return max(1, math.isqrt(max_seq_len))


def strided_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    stride = min(p["stride"], seq_len)
    blocks = math.ceil(seq_len / stride)
    keys = min(stride, seq_len) + (seq_len - 1) / (2 * stride)  # the band, then on average half the column
    block_keys = 2 * stride + blocks  # what each query row of the blocked computation scores
    return make_cost(multi_head_params(d_model, p["heads"], p["heads"], False), 4 * d_model * d_model,
                     d_model, p["heads"], seq_len, keys, kept_per_token=5 * d_model,
                     scores_kept=p["heads"] * seq_len * block_keys)


def strided_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, p["position"] == "rope")
    if p["stride"] > max_seq_len:
        yield "stride", f"stride ({p['stride']}) must be <= max_seq_len ({max_seq_len})"


register(BlockType(
    name="strided_attention",
    family="attention",
    title="Strided sparse attention",
    description="Causal attention over the last `stride` positions and every stride-th position before them "
                "(Sparse Transformer's strided pattern, both parts in one head), computed blockwise.",
    paper="Child et al. 2019, Generating Long Sequences with Sparse Transformers",
    params=(
        HEADS_PARAM,
        Param("stride", "int", 8, "Token t sees positions t−stride+1 .. t and t − m·stride for m >= 1. "
              "Left out: √max_seq_len, the paper's choice.", min=1, max=65536,
              context_default=strided_stride_default, paper_value="√L"),
        ROTARY_POSITION_PARAM,
    ),
    module="blocks.library.attention.strided_attention_nn.StridedAttention",
    cost=strided_cost,
    state=full_kv_cache_state,  # the strided part reaches back to the first positions
    complexity="O(L·(l + L/l))",  # O(L·√L) at l = √L
    causal=True,
    recurrent=True,
    check=strided_check,
    tags=("softmax", "sparse", "local"),
))
