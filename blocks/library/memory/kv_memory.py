"""Persistent key-value memory (read-only) (``kv_memory``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.memory.kv_memory_nn.KeyValueMemory``, is imported only when a model is built."""
from __future__ import annotations

from blocks.library.attention.common import HEADS_PARAM, heads_check
from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


def kv_memory_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    m, H = p["slots"], p["heads"]
    return Cost(
        params=2 * d_model * d_model + 2 * m * d_model,
        flops_per_token=2.0 * (2 * d_model * d_model + 2 * m * d_model) + 5 * H * m,
        activation_bytes=float(BYTES_PER_FLOAT * seq_len * (3 * d_model + 2 * H * m)),  # x, q, read; logits, weights
    )


def kv_memory_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, rope_needed=False)


register(BlockType(
    name="kv_memory",
    family="memory",
    title="Persistent key-value memory (read-only)",
    description="Each token's multi-head query reads a set of learned key-value slots: softmax over the slot "
    "keys, weighted sum of the slot values. The slots are parameters (persistent memory, as the "
    "all-attention layer's persistent vectors without the context keys): read-only at run time, "
    "position-wise, no state. Not a writable NTM/DNC memory; dense, not product-key top-k.",
    paper="Sukhbaatar et al. 2019, Augmenting Self-attention with Persistent Memory, arXiv:1907.01470 "
    "(persistent vectors); key-value read as in Sukhbaatar et al. 2015, End-To-End Memory Networks",
    params=(
        HEADS_PARAM,
        Param("slots", "int", 64, "Memory slots per head (learned key and value each).", min=1, max=65536),
    ),
    module="blocks.library.memory.kv_memory_nn.KeyValueMemory",
    cost=kv_memory_cost,
    complexity="O(L)",
    causal=True,
    recurrent=True,
    check=kv_memory_check,
    tags=("memory", "per-token"),
))
