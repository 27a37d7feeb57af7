"""Blocks of the mlp family: the position-wise feed-forward network (GELU or SwiGLU).

The compiler adds the pre-norm and residual; this module is the MLP alone. It acts on
each token independently, so it is trivially causal and has a (stateless) step form,
which lets hybrid models containing it run token by token.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from blocks.registry import BlockType, Cost, Param, register

ACTIVATIONS = ("swiglu", "gelu")

# SwiGLU's hidden width is rounded up to a multiple of this (LLaMA uses 256 for
# d_model 4096; 8 keeps tiny models tiny while staying friendly to matmul tiling).
SWIGLU_MULTIPLE_OF = 8

BYTES_PER_FLOAT = 4


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


class FeedForward(nn.Module):
    """x (B, L, D) -> (B, L, D): down(act(up(x))) or down(silu(gate(x)) * up(x))."""

    def __init__(self, d_model: int, hidden: int, activation: str = "swiglu", bias: bool = False):
        super().__init__()
        assert activation in ACTIVATIONS, f"activation must be one of {ACTIVATIONS}, got {activation!r}"
        assert d_model > 0 and hidden > 0, f"need positive sizes, got d_model={d_model}, hidden={hidden}"
        self.activation = activation
        self.up = nn.Linear(d_model, hidden, bias=bias)
        self.gate = nn.Linear(d_model, hidden, bias=bias) if activation == "swiglu" else None
        self.down = nn.Linear(hidden, d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gate is not None:
            h = F.silu(self.gate(x)) * self.up(x)  # (..., hidden)
        else:
            h = F.gelu(self.up(x), approximate="tanh")  # (..., hidden)
        return self.down(h)  # (..., D)


class MLP(nn.Module):
    """The `mlp` block: a position-wise FeedForward with a stateless step form."""

    def __init__(
        self,
        d_model: int,
        *,
        max_seq_len: int,
        layer_idx: int = 0,
        seed: int = 0,
        activation: str = "swiglu",
        expansion: float = 4.0,
        bias: bool = False,
    ):
        super().__init__()
        assert max_seq_len > 0, f"max_seq_len must be positive, got {max_seq_len}"
        self.d_model = d_model
        self.layer_idx = layer_idx
        self.hidden = mlp_hidden_size(d_model, expansion, activation)
        self.ffn = FeedForward(d_model, self.hidden, activation, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-1] == self.d_model, f"expected last dim {self.d_model}, got {tuple(x.shape)}"
        return self.ffn(x)  # (B, L, D)

    def init_state(self, batch_size: int, device=None, dtype=None):
        """The MLP has no memory across positions: its state is None."""
        return None

    def step(self, x_t: torch.Tensor, state=None):
        """x_t (B, D) -> (y_t (B, D), state): the same FeedForward on one position."""
        return self.ffn(x_t), state


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
        build=MLP,
        cost=mlp_cost,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        check=mlp_check,
        tags=("feed-forward", "per-token"),
    )
)
