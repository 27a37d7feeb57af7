"""Linformer attention (``linformer_attention``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.attention.linformer_attention_nn.LinformerAttention``, is imported only when a model is built."""
from __future__ import annotations

from blocks.library.attention.common import (
    HEADS_PARAM,
    clamp,
    causal_keys_per_query,
    heads_check,
    kv_cache_bytes,
    make_cost,
    multi_head_params,
)
from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


def linformer_proj_len_default(d_model: int, max_seq_len: int, p: dict) -> int:
    """k = L/4 between 8 and 128 (the paper's k = 128 at n = 512; it uses 128-256 beyond)."""
    return min(max_seq_len, clamp(8, max_seq_len // 4, 128))


def linformer_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    r, H = p["proj_len"], p["heads"]
    params = multi_head_params(d_model, H, H, False) + 2 * r * seq_len  # E, F have max_seq_len columns
    c = min(p["chunk_size"], seq_len)
    if p["causal"]:
        keys = r + causal_keys_per_query(c)
        scores = H * seq_len * (r + c)
    else:
        keys, scores = r, H * seq_len * r
    # projecting keys and values along the length: 2 matrices x r multiply-adds per token per channel
    macs = 4 * d_model * d_model + 2 * r * d_model
    return make_cost(params, macs, d_model, H, seq_len, keys, kept_per_token=5 * d_model, scores_kept=scores)


def linformer_state(d_model: int, seq_len: int, p: dict) -> float:
    if not p["causal"]:  # no step form: a decoder recomputes the projection over every past key and value
        return kv_cache_bytes(seq_len, d_model)
    # Projections of the completed chunks and of the current one (keys and values, proj_len slots
    # each), plus the current chunk's raw keys and values (at most chunk_size - 1 between tokens).
    projections = float(BYTES_PER_FLOAT * 4 * p["proj_len"] * d_model)
    return projections + kv_cache_bytes(min(seq_len, p["chunk_size"] - 1), d_model)


def linformer_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, rope_needed=False)
    if p["proj_len"] > max_seq_len:
        yield "proj_len", f"proj_len ({p['proj_len']}) must be <= max_seq_len ({max_seq_len})"
    if p["chunk_size"] > max_seq_len:
        yield "chunk_size", f"chunk_size ({p['chunk_size']}) must be <= max_seq_len ({max_seq_len})"


register(BlockType(
    name="linformer_attention",
    family="attention",
    title="Linformer attention",
    description="Keys/values projected along the length to proj_len slots; causal variant compresses completed "
                "past chunks and attends exactly inside the current chunk.",
    paper="Wang et al. 2020, Linformer: Self-Attention with Linear Complexity",
    params=(
        HEADS_PARAM,
        Param("proj_len", "int", 8, "k: length the keys and values are projected to. Left out: "
              "max_seq_len / 4 between 8 and 128 (the paper's 128 at n = 512; 128-256 beyond).", min=1,
              max=4096, context_default=linformer_proj_len_default, paper_value="128-256"),
        Param("causal", "bool", True, "Causal chunked variant (for language modelling); false = the paper's "
              "bidirectional form, which sees future tokens."),
        Param("chunk_size", "int", 8, "Causal variant: tokens attended exactly; earlier chunks are compressed.",
              min=1, max=4096),
    ),
    module="blocks.library.attention.linformer_attention_nn.LinformerAttention",
    cost=linformer_cost,
    state=linformer_state,
    complexity="O(L·k)",
    causal=lambda p: bool(p["causal"]),
    recurrent=True,  # the causal variant; the bidirectional one refuses init_state
    check=linformer_check,
    tags=("low-rank",),
))
