"""RetNet retention (``retnet``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.recurrent.retnet``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.ssm.common_nn import seeded_init
from blocks.ops.retention import retention, retention_chunkwise, retention_init_state, retention_step


# --------------------------------------------------------------------------- RetNet


def _rotate_every_two(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...) along the last dimension."""
    return torch.stack((-x[..., 1::2], x[..., ::2]), dim=-1).flatten(-2)


class RetNet(nn.Module):
    """Multi-scale retention (Sun et al. 2023), as torchscale's MultiScaleRetention.

    q, k (rotary) and v per head -> retention (head h decays with 1 - 2^(-5-h)) -> per-head
    group norm -> swish(g) gate -> out_proj. Sequences up to ``chunk_size`` use the parallel
    form, longer ones the chunkwise form; ``step`` is the recurrent form.
    """

    def __init__(
        self,
        d_model: int,
        *,
        max_seq_len: int,
        layer_idx: int = 0,
        seed: int = 0,
        heads: int = 4,
        value_factor: int = 2,
        rotary: bool = True,
        chunk_size: int = 64,
    ):
        super().__init__()
        assert d_model % heads == 0, f"heads ({heads}) must divide d_model ({d_model})"
        self.heads, self.key_dim = heads, d_model // heads
        assert not rotary or self.key_dim % 2 == 0, "rotary needs an even key dim (d_model / heads)"
        assert chunk_size >= 1, "chunk_size must be positive"
        self.rotary, self.chunk_size = rotary, chunk_size
        self.value_width = value_factor * d_model
        self.value_dim = self.value_width // heads
        with seeded_init(seed):
            self.q_proj = nn.Linear(d_model, d_model, bias=False)
            self.k_proj = nn.Linear(d_model, d_model, bias=False)
            self.v_proj = nn.Linear(d_model, self.value_width, bias=False)
            self.g_proj = nn.Linear(d_model, self.value_width, bias=False)
            self.out_proj = nn.Linear(self.value_width, d_model, bias=False)
        self.norm_weight = nn.Parameter(torch.ones(self.value_width))  # group norm affine
        self.norm_bias = nn.Parameter(torch.zeros(self.value_width))
        frequencies = 1.0 / 10000 ** torch.linspace(0, 1, self.key_dim // 2)
        self.register_buffer("frequencies", frequencies.repeat_interleave(2), persistent=False)  # (dk,)

    def _rotate(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Rotary position on x (..., L, H, dk) at positions (L,)."""
        if not self.rotary:
            return x
        angle = positions.to(x.dtype)[:, None] * self.frequencies  # (L, dk)
        sin, cos = angle.sin()[:, None, :], angle.cos()[:, None, :]  # (L, 1, dk)
        return x * cos + _rotate_every_two(x) * sin

    def _heads(self, x: torch.Tensor, width: int) -> torch.Tensor:
        return x.view(*x.shape[:-1], self.heads, width)

    def _output(self, x: torch.Tensor, retained: torch.Tensor) -> torch.Tensor:
        """Group norm per head, swish gate, projection: retained (..., H, dv) -> (..., D)."""
        normed = F.layer_norm(retained, (self.value_dim,)).flatten(-2)  # (..., H * dv)
        normed = normed * self.norm_weight + self.norm_bias
        return self.out_proj(F.silu(self.g_proj(x)) * normed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        positions = torch.arange(length, device=x.device)
        q = self._rotate(self._heads(self.q_proj(x), self.key_dim), positions)  # (B, L, H, dk)
        k = self._rotate(self._heads(self.k_proj(x), self.key_dim), positions)
        v = self._heads(self.v_proj(x), self.value_dim)  # (B, L, H, dv)
        if length <= self.chunk_size:
            retained = retention(q, k, v)
        else:
            retained = retention_chunkwise(q, k, v, self.chunk_size)
        return self._output(x, retained)  # (B, L, D)

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        memory = retention_init_state(batch_size, self.heads, self.key_dim, self.value_dim, device, dtype)
        position = torch.zeros((), dtype=torch.long, device=device)
        return memory, position

    def step(self, x_t: torch.Tensor, state):
        memory, position = state
        positions = position.reshape(1)
        q = self._rotate(self._heads(self.q_proj(x_t), self.key_dim).unsqueeze(1), positions)[:, 0]
        k = self._rotate(self._heads(self.k_proj(x_t), self.key_dim).unsqueeze(1), positions)[:, 0]
        v = self._heads(self.v_proj(x_t), self.value_dim)  # (B, H, dv)
        retained, memory = retention_step(q, k, v, memory)  # (B, H, dv)
        return self._output(x_t, retained), (memory, position + 1)
