"""S4D (``s4d``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.ssm.s4d_nn.S4D``, is imported only when a model is built."""
from __future__ import annotations

import math

from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


def s4d_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    H, N = d_model, params["d_state"]
    n_params = 2 * H * H + 2 * H * N + 4 * H  # output linear, A (2 x N/2), C (N), log_dt, D
    log_len = math.log2(max(2 * seq_len, 2))
    # Per token: kernel generation (N/2 complex exp + mul-add per channel ~ 8 real flops),
    # three length-2L real FFTs (~2.5 n log2 n each, over L tokens), D skip, GELU, linear + GLU.
    flops = H * (N / 2) * 8 + 3 * 2.5 * 2 * H * log_len + 2 * H + 8 * H + 2 * H * 2 * H + 4 * H
    # Kept for backward per token: u, the FFT product (2L complex -> ~4 floats), y, GELU, linear out (2H).
    activations = seq_len * H * (1 + 4 + 1 + 1 + 2) * BYTES_PER_FLOAT + H * N * seq_len * BYTES_PER_FLOAT
    return Cost(n_params, float(flops), float(activations))


def s4d_state(d_model: int, seq_len: int, params: dict) -> float:
    # N/2 complex modes per channel = N floats, whatever the length.
    return float(d_model * params["d_state"] * BYTES_PER_FLOAT)


def s4d_check(d_model: int, max_seq_len: int, params: dict):
    if params["d_state"] % 2:
        yield "d_state", "d_state must be even: S4D keeps N/2 complex-conjugate pairs"
    if params["dt_min"] >= params["dt_max"]:
        yield "dt_min", "dt_min must be smaller than dt_max"


register(
    BlockType(
        name="s4d",
        family="ssm",
        title="S4D",
        description="Diagonal state-space model: a long causal convolution whose kernel comes "
        "from a ZOH-discretised diagonal SSM, computed by FFT (S4D-Lin init).",
        paper="Gu, Gupta, Goel, Ré. On the Parameterization and Initialization of Diagonal "
        "State Space Models. NeurIPS 2022. arXiv:2206.11893",
        params=(
            Param("d_state", "int", 64, "state size N per channel (N/2 complex-conjugate pairs)",
                  min=2, max=512),
            Param("dt_min", "float", 0.001, "smallest initial step size (log-uniform init)",
                  min=1e-5, max=1.0),
            Param("dt_max", "float", 0.1, "largest initial step size (log-uniform init)", min=1e-4, max=10.0),
        ),
        module="blocks.library.ssm.s4d_nn.S4D",
        cost=s4d_cost,
        state=s4d_state,
        complexity="O(L log L)",
        causal=True,
        recurrent=True,
        check=s4d_check,
        tags=("long-range", "convolution"),
    )
)
