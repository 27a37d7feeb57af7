"""Softmax attention (``softmax_attention``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.attention.softmax_attention_nn.SoftmaxAttention``, is imported only when a model is built."""
from __future__ import annotations

from blocks.library.attention.common import (
    HEADS_PARAM,
    causal_keys_per_query,
    heads_check,
    kv_cache_bytes,
    make_cost,
    multi_head_params,
)
from blocks.registry import BlockType, Cost, Param, register


POSITIONS = ("rope", "learned", "none")


def softmax_attention_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    heads, kv_heads = p["heads"], p["kv_heads"] or p["heads"]
    kv_dim = kv_heads * (d_model // heads)
    params = multi_head_params(d_model, heads, kv_heads, p["bias"])
    if p["position"] == "learned":
        params += seq_len * d_model  # the embedding has max_seq_len rows: call with seq_len = max_seq_len
    macs = 2 * d_model * d_model + 2 * d_model * kv_dim
    return make_cost(params, macs, d_model, heads, seq_len, causal_keys_per_query(seq_len),
                     kept_per_token=3 * d_model + 2 * kv_dim, scores_kept=heads * seq_len * seq_len)


def softmax_attention_state(d_model: int, seq_len: int, p: dict) -> float:
    heads, kv_heads = p["heads"], p["kv_heads"] or p["heads"]
    return kv_cache_bytes(seq_len, kv_heads * (d_model // heads))  # grouped-query: kv_heads wide


def softmax_attention_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, p["position"] == "rope")
    kv = p["kv_heads"]
    if kv and (kv > p["heads"] or p["heads"] % kv):
        yield "kv_heads", f"kv_heads ({kv}) must divide heads ({p['heads']}); 0 means one per head"


register(BlockType(
    name="softmax_attention",
    family="attention",
    title="Softmax attention",
    description="Causal multi-head dot-product attention (grouped-query when kv_heads < heads), with a KV-cache step.",
    paper="Vaswani et al. 2017, Attention Is All You Need; Ainslie et al. 2023, GQA",
    params=(
        HEADS_PARAM,
        Param("kv_heads", "int", 0, "Key/value heads (grouped-query attention); must divide heads. "
              "0 = one per query head (multi-head).", min=0, max=128),
        Param("position", "choice", "rope", "Position code: rotary (RoPE), learned absolute embedding, or none.",
              choices=POSITIONS),
        Param("bias", "bool", False, "Add biases to the projections."),
    ),
    module="blocks.library.attention.softmax_attention_nn.SoftmaxAttention",
    cost=softmax_attention_cost,
    state=softmax_attention_state,
    complexity="O(L^2)",
    causal=True,
    recurrent=True,
    check=softmax_attention_check,
    tags=("softmax", "kv-cache"),
))
