"""Mamba-2 (``mamba2``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.ssm.mamba2_nn.Mamba2``, is imported only when a model is built."""
from __future__ import annotations

from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


def _shape(d_model: int, params: dict) -> tuple[int, int, int]:
    """(inner width, head dim, heads): the head dim is capped at the inner width."""
    inner = params["expand"] * d_model
    headdim = min(params["headdim"], inner)
    return inner, headdim, max(inner // headdim, 1)


def mamba2_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, N, K = d_model, params["d_state"], params["d_conv"]
    E, P, H = _shape(d, params)
    conv_dim = E + 2 * N
    n_params = d * (2 * E + 2 * N + H) + conv_dim * (K + 1) + 3 * H + E + E * d
    T = min(seq_len, params["chunk_size"])
    # Per token: projections, conv, in-chunk C.B scores (2 T N) and weighted values (2 T E),
    # chunk state write and read (4 N E), norm and gate.
    flops = 2 * (d * (2 * E + 2 * N + H) + E * d) + 2 * conv_dim * K + 2 * T * N + 2 * T * E + 4 * N * E + 12 * E
    # Kept per token: projections, conv output, y, gated y; the (T) decays and scores per head.
    per_token = 2 * (2 * E + 2 * N + H) + 3 * E + 2 * H * T
    return Cost(n_params, float(flops), float(seq_len * per_token * BYTES_PER_FLOAT))


def mamba2_state(d_model: int, seq_len: int, params: dict) -> float:
    E, _, _ = _shape(d_model, params)
    N = params["d_state"]
    return float((N * E + (E + 2 * N) * params["d_conv"]) * BYTES_PER_FLOAT)  # SSM state and conv window


def mamba2_check(d_model: int, max_seq_len: int, params: dict):
    E, P, _ = _shape(d_model, params)
    if E % P:
        yield "headdim", f"headdim ({P}) must divide the inner width ({E} = expand * d_model)"


register(
    BlockType(
        name="mamba2",
        family="ssm",
        title="Mamba-2 (SSD)",
        description="Selective state space with a scalar-times-identity A per head (state-space duality): "
        "multi-head, B and C shared by the heads, chunked form for training and O(1)-state recurrence "
        "for generation; causal conv, gated RMS norm. Adaptation: one group of B/C, no chunk-level scan kernel.",
        paper="Dao, Gu. Transformers are SSMs: Generalized Models and Efficient Algorithms Through "
        "Structured State Space Duality. 2024. arXiv:2405.21060",
        params=(
            Param("d_state", "int", 128, "state size N per head (paper: 128)", min=1, max=512),
            Param("d_conv", "int", 4, "causal conv width (paper: 4)", min=1, max=16),
            Param("expand", "int", 2, "inner width = expand * d_model (paper: 2)", min=1, max=4),
            Param("headdim", "int", 64, "head dim P (paper: 64), capped at the inner width", min=1, max=256),
            Param("chunk_size", "int", 256, "chunk length of the chunked form (paper: 256)", min=1, max=4096),
        ),
        module="blocks.library.ssm.mamba2_nn.Mamba2",
        cost=mamba2_cost,
        state=mamba2_state,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        check=mamba2_check,
        tags=("ssm", "selective", "decay"),
    )
)
