"""Gated linear attention (``gla``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.recurrent.gla_nn.GatedLinearAttention``, is imported only when a model is built."""
from __future__ import annotations

from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


def _widths(d_model: int, params: dict) -> tuple[int, int]:
    return int(d_model * params["expand_k"]), int(d_model * params["expand_v"])


def gla_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, H, r = d_model, params["heads"], params["gate_low_rank_dim"]
    K, V = _widths(d, params)
    dk, dv = K // H, V // H
    n_params = 2 * d * K + 3 * d * V + d * r + r * K + K + dv
    projections = 2 * (2 * d * K + 3 * d * V + d * r + r * K)
    window = min(seq_len, params["chunk_size"])  # positions each query reads directly
    attention = H * window * (3 * dk + 2 * dv)  # log-space scores (T x T x dk) and weighted values
    if seq_len > params["chunk_size"]:
        attention += H * 4 * dk * dv  # read the carried state and add to it
    flops = projections + attention + 8 * V + 4 * K
    # Kept per token: q, k, v, g, gate, outputs; plus the (T, dk) pairwise decays and (T) scores.
    per_token = 3 * K + 4 * V + H * window * (dk + 1)
    return Cost(n_params, float(flops), float(seq_len * per_token * BYTES_PER_FLOAT))


def gla_state(d_model: int, seq_len: int, params: dict) -> float:
    K, V = _widths(d_model, params)
    return float(K * V // params["heads"] * BYTES_PER_FLOAT)  # one (dk x dv) memory per head


def gla_check(d_model: int, max_seq_len: int, params: dict):
    K, V = _widths(d_model, params)
    heads = params["heads"]
    if K % heads or V % heads or K == 0:
        yield "heads", f"heads ({heads}) must divide the key width ({K} = d_model * expand_k) " \
                       f"and the value width ({V} = d_model * expand_v)"


register(
    BlockType(
        name="gla",
        family="recurrent",
        title="Gated linear attention",
        description="Linear attention with a data-dependent, per-channel forget gate "
        "(S_t = diag(alpha_t) S_{t-1} + k_t^T v_t, alpha_t = sigmoid(x W1 W2 + b)^(1/tau)); "
        "chunked form for training, O(1)-state recurrence for generation; RMS norm and swish output gate.",
        paper="Yang, Wang, Shen, Panda, Kim. Gated Linear Attention Transformers with Hardware-Efficient "
        "Training. 2023. arXiv:2312.06635",
        params=(
            Param("heads", "int", 4, "attention heads (paper: 4)", min=1, max=64),
            Param("expand_k", "float", 0.5, "key width = expand_k * d_model (paper: 0.5)", min=0.125, max=4.0),
            Param("expand_v", "float", 1.0, "value width = expand_v * d_model (paper: 1)", min=0.125, max=4.0),
            Param("gate_low_rank_dim", "int", 16, "rank of the decay projection W1 W2 (paper: 16)",
                  min=1, max=256),
            Param("gate_logit_normalizer", "float", 16.0, "tau: alpha = sigmoid(.)^(1/tau) (paper: 16)",
                  min=1.0, max=256.0),
            Param("chunk_size", "int", 16, "chunk length of the chunked form (paper's secondary chunk: 16)",
                  min=1, max=1024),
        ),
        module="blocks.library.recurrent.gla_nn.GatedLinearAttention",
        cost=gla_cost,
        state=gla_state,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        check=gla_check,
        tags=("linear-attention", "decay", "gated"),
    )
)
