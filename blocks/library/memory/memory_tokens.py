"""Memory tokens (``memory_tokens``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.memory.memory_tokens_nn.MemoryTokenAttention``, is imported only when a model is built."""
from __future__ import annotations

from blocks.library.attention.common import (
    HEADS_PARAM,
    causal_keys_per_query,
    heads_check,
    kv_cache_bytes,
    make_cost,
    multi_head_params,
)
from blocks.library.memory.common import POSITION_PARAM
from blocks.registry import BlockType, Cost, Param, register


def memory_tokens_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    H, n = p["heads"], p["num_tokens"]
    keys = n + causal_keys_per_query(seq_len)
    return make_cost(multi_head_params(d_model, H, H, False) + 2 * n * d_model, 4 * d_model * d_model,
                     d_model, H, seq_len, keys, kept_per_token=5 * d_model, scores_kept=H * seq_len * (n + seq_len))


def memory_tokens_state(d_model: int, seq_len: int, p: dict) -> float:
    # The KV cache of the real tokens; the memory slots are parameters, read each step.
    return kv_cache_bytes(seq_len, d_model)


def memory_tokens_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, p["position"] == "rope")


register(BlockType(
    name="memory_tokens",
    family="memory",
    title="Memory tokens",
    description="Causal attention with learned memory key/value slots that every position can read.",
    paper="Sukhbaatar et al. 2019, Augmenting Self-attention with Persistent Memory; "
          "Burtsev et al. 2020, Memory Transformer",
    params=(
        HEADS_PARAM,
        Param("num_tokens", "int", 8, "Learned memory slots per head, visible to every position.", min=1, max=4096),
        POSITION_PARAM,
    ),
    module="blocks.library.memory.memory_tokens_nn.MemoryTokenAttention",
    cost=memory_tokens_cost,
    state=memory_tokens_state,
    complexity="O(L^2)",
    causal=True,
    recurrent=True,
    check=memory_tokens_check,
    tags=("softmax", "memory", "kv-cache"),
))
