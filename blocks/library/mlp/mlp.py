"""MLP (feed-forward) (``mlp``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.mlp.mlp_nn.MLP``, is imported only when a model is built."""
from __future__ import annotations

import math

from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


ACTIVATIONS = ("swiglu", "gelu")


# SwiGLU's hidden width is rounded up to a multiple of this (LLaMA uses 256 for
# d_model 4096; 8 keeps tiny models tiny while staying friendly to matmul tiling).
SWIGLU_MULTIPLE_OF = 8


def mlp_hidden_size(d_model: int, expansion: float, activation: str) -> int:
    """Width of the hidden layer.

    gelu:   round(expansion * d_model).
    swiglu: as in LLaMA, the gated MLP has three matrices instead of two, so to keep
            the parameter count of a plain expansion-x MLP the width is 2/3 of it:
            hidden = int(2/3 * expansion * d_model) rounded up to a multiple of 8.
    Always at least 1.
    """
    assert activation in ACTIVATIONS, f"activation must be one of {ACTIVATIONS}, got {activation!r}"
    assert d_model > 0 and expansion > 0, f"need d_model > 0 and expansion > 0, got {d_model}, {expansion}"
    if activation == "gelu":
        return max(1, int(round(expansion * d_model)))
    hidden = int(2 * expansion * d_model / 3)
    return max(SWIGLU_MULTIPLE_OF, SWIGLU_MULTIPLE_OF * math.ceil(hidden / SWIGLU_MULTIPLE_OF))


def mlp_param_count(d_model: int, hidden: int, activation: str, bias: bool) -> int:
    """Exact parameter count of one FeedForward (used by MLP and MoE cost models)."""
    if activation == "swiglu":
        return 3 * d_model * hidden + (2 * hidden + d_model if bias else 0)
    return 2 * d_model * hidden + (hidden + d_model if bias else 0)


def mlp_flops_per_token(d_model: int, hidden: int, activation: str, bias: bool = False) -> float:
    """Forward FLOPs for one token: 2 per multiply-add, plus bias adds and the activation."""
    matmuls = 3 if activation == "swiglu" else 2
    # SiLU ~4 ops and the gate multiply 1 per hidden unit; tanh-GELU ~8 ops per unit.
    elementwise = 5 * hidden if activation == "swiglu" else 8 * hidden
    bias_adds = ((matmuls - 1) * hidden + d_model) if bias else 0
    return 2.0 * matmuls * d_model * hidden + elementwise + bias_adds


def mlp_activation_floats_per_token(d_model: int, hidden: int, activation: str) -> int:
    """Floats autograd keeps per token: the input, and the hidden tensors around the nonlinearity."""
    # swiglu keeps gate, up and silu(gate)*up (the down projection's input): 3 hidden.
    # gelu keeps the pre-activation and the activation: 2 hidden.
    return d_model + (3 * hidden if activation == "swiglu" else 2 * hidden)


PARAMS = (
    Param("activation", "choice", "swiglu", "SwiGLU (gated, LLaMA) or GELU (GPT-2).", choices=ACTIVATIONS),
    Param(
        "expansion",
        "float",
        4.0,
        "Hidden width / d_model. For swiglu the width is 2/3 of this (rounded up to a multiple "
        "of 8), keeping parameters close to a plain MLP of this expansion.",
        min=0.25,
        max=16.0,
    ),
    Param("bias", "bool", False, "Add biases to the linear layers."),
)


def mlp_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    activation, expansion, bias = params["activation"], params["expansion"], params["bias"]
    hidden = mlp_hidden_size(d_model, expansion, activation)
    return Cost(
        params=mlp_param_count(d_model, hidden, activation, bias),
        flops_per_token=mlp_flops_per_token(d_model, hidden, activation, bias),
        activation_bytes=float(seq_len * mlp_activation_floats_per_token(d_model, hidden, activation) * BYTES_PER_FLOAT),
    )


def mlp_check(d_model: int, max_seq_len: int, params: dict):
    # Every combination within the Param ranges builds; nothing crosses fields.
    return []


register(
    BlockType(
        name="mlp",
        family="mlp",
        title="MLP (feed-forward)",
        description="Position-wise feed-forward network, SwiGLU or GELU, applied to each token independently.",
        paper="Vaswani et al. 2017, Attention Is All You Need; Shazeer 2020, GLU Variants Improve Transformer",
        params=PARAMS,
        module="blocks.library.mlp.mlp_nn.MLP",
        cost=mlp_cost,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        check=mlp_check,
        tags=("feed-forward", "per-token"),
    )
)
