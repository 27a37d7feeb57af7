"""MLP (feed-forward) (``mlp``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.mlp.mlp``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.mlp.mlp import ACTIVATIONS, mlp_hidden_size


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
