"""BigBird attention (``bigbird_attention``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.attention.bigbird_attention_nn.BigBirdAttention``, is imported only when a model is built."""
from __future__ import annotations

import math

from blocks.library.attention.common import (
    HEADS_PARAM,
    ROTARY_POSITION_PARAM,
    clamp,
    causal_keys_per_query,
    heads_check,
    kv_cache_bytes,
    make_cost,
    multi_head_params,
)
from blocks.registry import BlockType, Cost, Param, register


def full_kv_cache_state(d_model: int, seq_len: int, p: dict) -> float:
    """Every past key and value, d_model wide (BigBird's random blocks, memory tokens, ...)."""
    return kv_cache_bytes(seq_len, d_model)


def bigbird_block_size_default(d_model: int, max_seq_len: int, p: dict) -> int:
    """b = L/16 between 8 and 64 (BigBird's 64 from 1,024 tokens on)."""
    return min(max_seq_len, clamp(8, max_seq_len // 16, 64))


def _bigbird_blocks(max_seq_len: int, p: dict) -> int:
    return math.ceil(max_seq_len / p["block_size"])


def bigbird_global_blocks_default(d_model: int, max_seq_len: int, p: dict) -> int:
    """One global block per 4 blocks, between 1 and BigBird's 2 (2 needs at least 8 blocks)."""
    return clamp(1, _bigbird_blocks(max_seq_len, p) // 4, 2)


def bigbird_random_blocks_default(d_model: int, max_seq_len: int, p: dict) -> int:
    """One random block per 4 blocks, between 1 and BigBird's 3."""
    return clamp(1, _bigbird_blocks(max_seq_len, p) // 4, 3)


def bigbird_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    b = min(p["block_size"], seq_len)
    K = 1 + p["window_blocks"] + p["global_blocks"] + p["random_blocks"]
    keys = min(K * b, causal_keys_per_query(seq_len))
    return make_cost(multi_head_params(d_model, p["heads"], p["heads"], False), 4 * d_model * d_model,
                     d_model, p["heads"], seq_len, keys, kept_per_token=5 * d_model,
                     scores_kept=p["heads"] * seq_len * K * b)


def bigbird_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, p["position"] == "rope")
    if p["block_size"] > max_seq_len:
        yield "block_size", f"block_size ({p['block_size']}) must be <= max_seq_len ({max_seq_len})"
    elif p["global_blocks"] * p["block_size"] > max_seq_len:
        covered = p["global_blocks"] * p["block_size"]
        yield "global_blocks", f"global_blocks x block_size ({covered}) exceeds max_seq_len ({max_seq_len})"


register(BlockType(
    name="bigbird_attention",
    family="attention",
    title="BigBird attention",
    description="Causal block-sparse attention: own + window blocks, global blocks and seeded random past blocks.",
    paper="Zaheer et al. 2020, Big Bird: Transformers for Longer Sequences",
    params=(
        HEADS_PARAM,
        Param("block_size", "int", 8, "Tokens per block. Left out: max_seq_len / 16 between 8 and 64 "
              "(BigBird's 64).", min=1, max=4096, context_default=bigbird_block_size_default, paper_value=64),
        Param("window_blocks", "int", 1, "Previous blocks each block always sees (besides itself). BigBird's "
              "window is 3 blocks, its own and one on each side: causally, its own and 1 previous.",
              min=0, max=64, paper_value=1),
        Param("global_blocks", "int", 1, "The first blocks, seen by every later block. Left out: one per 4 "
              "blocks, between 1 and BigBird's 2.", min=0, max=64,
              context_default=bigbird_global_blocks_default, paper_value=2),
        Param("random_blocks", "int", 1, "Random earlier blocks per block, fixed per model by its seed. Left "
              "out: one per 4 blocks, between 1 and BigBird's 3.", min=0, max=64,
              context_default=bigbird_random_blocks_default, paper_value=3),
        ROTARY_POSITION_PARAM,
    ),
    module="blocks.library.attention.bigbird_attention_nn.BigBirdAttention",
    cost=bigbird_cost,
    state=full_kv_cache_state,  # random blocks may point anywhere in the past
    complexity="O(L·b)",  # each query scores (1 + window + global + random) · block_size keys
    causal=True,
    recurrent=True,
    check=bigbird_check,
    tags=("softmax", "sparse", "random"),
))
