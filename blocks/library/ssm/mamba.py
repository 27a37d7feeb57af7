"""Mamba (``mamba``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.ssm.mamba_nn.Mamba``, is imported only when a model is built."""
from __future__ import annotations

import math

from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


# --------------------------------------------------------------------------- Mamba


def mamba_dt_rank(d_model: int, dt_rank: int) -> int:
    """The rank of the delta projection: ``dt_rank``, or ceil(d_model / 16) when it is 0."""
    return dt_rank if dt_rank > 0 else math.ceil(d_model / 16)


def mamba_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, N, K = d_model, params["d_state"], params["d_conv"]
    E = params["expand"] * d
    R = mamba_dt_rank(d, params["dt_rank"])
    n_params = (
        d * 2 * E  # in_proj
        + E * K + E  # depthwise conv + bias
        + E * (R + 2 * N)  # x_proj
        + R * E + E  # dt_proj
        + E * N + E  # A_log, D
        + E * d  # out_proj
    )
    matmuls = 2 * (d * 2 * E + E * K + E * (R + 2 * N) + R * E + E * d)
    # Scan per channel and state: exp(dt A), decay * h + dt B u, C . h (~6 flops); softplus,
    # SiLU twice, gate and D skip per channel (~10 flops).
    flops = matmuls + 6 * E * N + 10 * E
    # Kept per token: in_proj out (2E), conv out and its SiLU (2E), x_proj out (R + 2N),
    # delta (E), y and gated y (2E), and the scan's per-state tensors (~4 of E x N).
    per_token = 2 * E + 2 * E + (R + 2 * N) + E + 2 * E + 4 * E * N
    return Cost(n_params, float(flops), float(seq_len * per_token * BYTES_PER_FLOAT))


def mamba_state(d_model: int, seq_len: int, params: dict) -> float:
    # Per inner channel: the SSM state (d_state) and the conv window (d_conv inputs), whatever the length.
    return float(params["expand"] * d_model * (params["d_state"] + params["d_conv"]) * BYTES_PER_FLOAT)


def mamba_check(d_model: int, max_seq_len: int, params: dict):
    if params["d_conv"] > max_seq_len:
        yield "d_conv", f"d_conv ({params['d_conv']}) must not exceed max_seq_len ({max_seq_len})"
    if params["dt_rank"] > params["expand"] * d_model:
        yield "dt_rank", "dt_rank must not exceed expand * d_model (the inner width)"


register(
    BlockType(
        name="mamba",
        family="ssm",
        title="Mamba",
        description="Selective state-space block: input-dependent dt, B, C with a gated "
        "depthwise-conv branch; linear-time scan with a constant-size recurrent state.",
        paper="Gu, Dao. Mamba: Linear-Time Sequence Modeling with Selective State Spaces. "
        "2023. arXiv:2312.00752",
        params=(
            Param("d_state", "int", 16, "SSM state size N per channel", min=1, max=256),
            Param("d_conv", "int", 4, "width of the causal depthwise convolution", min=1, max=16),
            Param("expand", "int", 2, "inner width = expand * d_model", min=1, max=8),
            Param("dt_rank", "int", 0, "rank of the dt projection; 0 = ceil(d_model / 16)", min=0, max=1024),
        ),
        module="blocks.library.ssm.mamba_nn.Mamba",
        cost=mamba_cost,
        state=mamba_state,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        check=mamba_check,
        tags=("selective", "linear-time"),
    )
)
