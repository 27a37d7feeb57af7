"""Cost arithmetic, the heads param and the checks the attention entries share (the memory
family's too); plain Python."""
from __future__ import annotations

from blocks.registry import BYTES_PER_FLOAT, Cost, Param


SOFTMAX_FLOPS_PER_SCORE = 5  # max, subtract, exp, sum, divide


# ----------------------------------------------------------------------------- shared helpers

def linear_params(d_in: int, d_out: int, bias: bool) -> int:
    return d_in * d_out + (d_out if bias else 0)


def heads_check(d_model: int, params: dict, rope_needed: bool):
    """Problems shared by every multi-head block: heads | d_model, even head_dim for RoPE."""
    heads = params["heads"]
    if d_model % heads:
        yield "heads", f"heads ({heads}) must divide d_model ({d_model})"
    elif rope_needed and (d_model // heads) % 2:
        yield "heads", f"rotary positions need an even head size; d_model/heads = {d_model // heads}"


def dense_attention_flops(d_model: int, heads: int, keys_per_query: float) -> float:
    """Scores and weighted sum (2 matmuls of head_dim per key per head) plus softmax."""
    return 4.0 * d_model * keys_per_query + SOFTMAX_FLOPS_PER_SCORE * heads * keys_per_query


def make_cost(params: int, projection_macs: int, d_model: int, heads: int, seq_len: int,
              keys_per_query: float, kept_per_token: float, scores_kept: float) -> Cost:
    """A Cost from the pieces every attention block has (macs per token, keys per query, ...)."""
    return Cost(
        params=params,
        flops_per_token=2.0 * projection_macs + dense_attention_flops(d_model, heads, keys_per_query),
        activation_bytes=float(BYTES_PER_FLOAT * (seq_len * kept_per_token + scores_kept)),
    )


def causal_keys_per_query(seq_len: int) -> float:
    return (seq_len + 1) / 2.0


def kv_cache_bytes(positions: int, kv_width: int) -> float:
    """Inference state of a KV cache: keys and values of ``positions`` tokens, kv_width floats each."""
    return float(BYTES_PER_FLOAT * 2 * positions * kv_width)


def multi_head_params(d_model: int, heads: int, kv_heads: int, bias: bool) -> int:
    kv_dim = 2 * kv_heads * (d_model // heads)
    return 2 * linear_params(d_model, d_model, bias) + linear_params(d_model, kv_dim, bias)


# Length-like static defaults (window, block_size, proj_len, chunk_size) are 8, the smallest
# max_seq_len a spec may have, so every block builds with its defaults in any valid model; in a
# spec, window, block_size, proj_len and BigBird's global/random blocks grow with the context
# (context_default below).
# The position codes of the blocks whose attention pattern is not dense-causal: relative (RoPE) or none.
ROTARY_POSITIONS = ("rope", "none")
ROTARY_POSITION_PARAM = Param("position", "choice", "rope", "Position code: rotary (RoPE) or none.",
                              choices=ROTARY_POSITIONS)

HEADS_PARAM = Param("heads", "int", 4, "Number of attention heads; must divide d_model.", min=1, max=128)


# ---- defaults that move toward the papers' as the context grows (Param.context_default) -------
# Each is valid at any length (never more than the context, so also inside a small chunk); the
# static Param.default is the value at the shortest lengths.

def clamp(low: int, value: int, high: int) -> int:
    return max(low, min(high, value))


def linear_family_cost(d_model: int, seq_len: int, heads: int, feature_dim: int, feature_macs: int) -> Cost:
    """Projections, feature maps, and per token the state update and read (m x hd per head, twice)."""
    hd = d_model // heads
    state_macs = 2 * heads * feature_dim * hd + 2 * heads * feature_dim  # kv state and normaliser
    return Cost(
        params=4 * d_model * d_model,
        flops_per_token=2.0 * (4 * d_model * d_model + feature_macs + state_macs),
        # kept: input, q, k, v, features of q and k, output; chunk scores of the op (C = 64)
        activation_bytes=float(BYTES_PER_FLOAT * seq_len * (5 * d_model + 2 * heads * feature_dim
                                                             + heads * min(seq_len, 64))),
    )


def linear_family_state(d_model: int, heads: int, feature_dim: int) -> float:
    """Fixed whatever the length: per head the sum of phi(k) v^T (m x hd) and the normaliser sum of phi(k) (m)."""
    return float(BYTES_PER_FLOAT * heads * feature_dim * (d_model // heads + 1))


def linear_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, rope_needed=False)
