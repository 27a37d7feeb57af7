"""Sliding-window attention (``sliding_window_attention``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.attention.sliding_window_attention_nn.SlidingWindowAttention``, is imported only when a model is built."""
from __future__ import annotations

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


def sliding_window_default(d_model: int, max_seq_len: int, p: dict) -> int:
    """w = L/8 between 8 and 512 (Longformer's 512 at 4,096 tokens)."""
    return min(max_seq_len, clamp(8, max_seq_len // 8, 512))


def sliding_window_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    w, g = min(p["window"], seq_len), min(p["global_tokens"], seq_len)
    keys = min(w, causal_keys_per_query(seq_len)) + g  # band (at most w) plus the globals beyond it
    block_keys = g + 2 * w  # what each query row of the blocked computation scores
    return make_cost(multi_head_params(d_model, p["heads"], p["heads"], False), 4 * d_model * d_model,
                     d_model, p["heads"], seq_len, keys, kept_per_token=5 * d_model,
                     scores_kept=p["heads"] * seq_len * block_keys)


def sliding_window_state(d_model: int, seq_len: int, p: dict) -> float:
    # Between tokens the step keeps the last window - 1 positions and the global ones.
    return kv_cache_bytes(min(seq_len, p["window"] - 1) + min(seq_len, p["global_tokens"]), d_model)


def sliding_window_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, p["position"] == "rope")
    if p["window"] > max_seq_len:
        yield "window", f"window ({p['window']}) must be <= max_seq_len ({max_seq_len})"
    if p["global_tokens"] > max_seq_len:
        yield "global_tokens", f"global_tokens ({p['global_tokens']}) must be <= max_seq_len ({max_seq_len})"


register(BlockType(
    name="sliding_window_attention",
    family="attention",
    title="Sliding-window attention",
    description="Causal local attention over the last `window` tokens plus the first `global_tokens` "
                "(Longformer), computed blockwise.",
    paper="Beltagy et al. 2020, Longformer: The Long-Document Transformer",
    params=(
        HEADS_PARAM,
        Param("window", "int", 8, "Each token sees this many most recent positions, itself included. "
              "Left out: max_seq_len / 8 between 8 and 512 (Longformer's 512).", min=1, max=65536,
              context_default=sliding_window_default, paper_value=512),
        Param("global_tokens", "int", 0, "The first g positions are global: every later token may attend to them.",
              min=0, max=65536),
        ROTARY_POSITION_PARAM,
    ),
    module="blocks.library.attention.sliding_window_attention_nn.SlidingWindowAttention",
    cost=sliding_window_cost,
    state=sliding_window_state,
    complexity="O(L·w)",
    causal=True,
    recurrent=True,
    check=sliding_window_check,
    tags=("softmax", "sparse", "local"),
))
