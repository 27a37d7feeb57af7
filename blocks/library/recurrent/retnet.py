"""RetNet retention (``retnet``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.recurrent.retnet_nn.RetNet``, is imported only when a model is built."""
from __future__ import annotations

from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


def retnet_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, H = d_model, params["heads"]
    V = params["value_factor"] * d
    dk, dv = d // H, V // H
    n_params = 2 * d * d + 3 * d * V + 2 * V
    projections = 2 * (2 * d * d + 3 * d * V)
    rotary = 6 * d if params["rotary"] else 0
    window = min(seq_len, params["chunk_size"])  # tokens each query scores directly
    retention_flops = H * 2 * window * (dk + dv)  # scores + weighted values (full chunk square)
    if seq_len > params["chunk_size"]:
        retention_flops += H * 4 * dk * dv  # read the carried state and add to it
    norm_and_gate = 10 * V
    flops = projections + rotary + retention_flops + norm_and_gate
    # Kept per token: q, k, v, g, retained, normed, gated; plus the (H, T, T) score tensors.
    per_token = 2 * d + 4 * V + V + H * window * 2
    return Cost(n_params, float(flops), float(seq_len * per_token * BYTES_PER_FLOAT))


def retnet_state(d_model: int, seq_len: int, params: dict) -> float:
    # One (key_dim x value_dim) memory per head, whatever the length (the position counter is not counted).
    heads = params["heads"]
    return float(heads * (d_model // heads) * (params["value_factor"] * d_model // heads) * BYTES_PER_FLOAT)


def retnet_check(d_model: int, max_seq_len: int, params: dict):
    heads = params["heads"]
    if d_model % heads:
        yield "heads", f"heads ({heads}) must divide d_model ({d_model})"
    elif params["rotary"] and (d_model // heads) % 2:
        yield "rotary", f"rotary needs an even head dim; d_model / heads = {d_model // heads}"


register(
    BlockType(
        name="retnet",
        family="recurrent",
        title="RetNet retention",
        description="Multi-scale retention: causal attention with fixed per-head exponential decay, "
        "run in parallel, chunkwise or as an O(1)-state recurrence; swish gate and group norm.",
        paper="Sun et al. Retentive Network: A Successor to Transformer for Large Language Models. "
        "2023. arXiv:2307.08621",
        params=(
            Param("heads", "int", 4, "retention heads; head h decays with 1 - 2^(-5-h)", min=1, max=64),
            Param("value_factor", "int", 2, "value width = value_factor * d_model", min=1, max=4),
            Param("rotary", "bool", True, "rotary relative positions on q and k (RetNet's xPos without "
                  "its scale, which the decay already provides)"),
            Param("chunk_size", "int", 64, "longer sequences use the chunkwise form with this chunk",
                  min=1, max=4096),
        ),
        module="blocks.library.recurrent.retnet_nn.RetNet",
        cost=retnet_cost,
        state=retnet_state,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        check=retnet_check,
        tags=("linear-attention", "decay"),
    )
)
