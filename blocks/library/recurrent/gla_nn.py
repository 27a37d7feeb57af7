"""Gated linear attention (``gla``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.recurrent.gla``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.ssm.common_nn import seeded_init
from blocks.ops.gated_linear_attention import gla_chunked, gla_init_state, gla_step


class GatedLinearAttention(nn.Module):
    """GLA (Yang et al. 2023), as flash-linear-attention's GatedLinearAttention layer.

    q (scaled by key_dim^-0.5), k, v per head; a low-rank data-dependent decay
    log alpha_t = logsigmoid(x W1 W2 + b) / tau per key channel; S_t = diag(alpha_t) S_{t-1} + k_t^T v_t,
    o_t = q_t S_t; per-head RMS norm, swish output gate, projection. ``forward`` is the chunked
    form, ``step`` the recurrent one.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, heads: int = 4,
                 expand_k: float = 0.5, expand_v: float = 1.0, gate_low_rank_dim: int = 16,
                 gate_logit_normalizer: float = 16.0, chunk_size: int = 16, norm_eps: float = 1e-5):
        super().__init__()
        key_width, value_width = int(d_model * expand_k), int(d_model * expand_v)
        assert key_width % heads == 0 and value_width % heads == 0, \
            f"heads ({heads}) must divide the key width ({key_width}) and value width ({value_width})"
        assert chunk_size >= 1, "chunk_size must be positive"
        self.heads, self.key_dim, self.value_dim = heads, key_width // heads, value_width // heads
        self.normalizer, self.chunk_size, self.eps = gate_logit_normalizer, chunk_size, norm_eps
        with seeded_init(seed):
            self.q_proj = nn.Linear(d_model, key_width, bias=False)
            self.k_proj = nn.Linear(d_model, key_width, bias=False)
            self.v_proj = nn.Linear(d_model, value_width, bias=False)
            self.g_proj = nn.Linear(d_model, value_width, bias=False)
            self.gk_proj = nn.Sequential(nn.Linear(d_model, gate_low_rank_dim, bias=False),
                                         nn.Linear(gate_low_rank_dim, key_width, bias=True))
            self.o_proj = nn.Linear(value_width, d_model, bias=False)
        self.norm_weight = nn.Parameter(torch.ones(self.value_dim))  # one RMS norm shared by the heads

    def _inputs(self, x: torch.Tensor):
        """q (scaled), k, v, log alpha per head from x (..., D)."""
        q = self.q_proj(x).unflatten(-1, (self.heads, self.key_dim)) * self.key_dim**-0.5
        k = self.k_proj(x).unflatten(-1, (self.heads, self.key_dim))
        v = self.v_proj(x).unflatten(-1, (self.heads, self.value_dim))
        log_alpha = F.logsigmoid(self.gk_proj(x)).unflatten(-1, (self.heads, self.key_dim)) / self.normalizer
        return q, k, v, log_alpha

    def _output(self, x: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
        """Per-head RMS norm, swish(x W_g) gate, projection: o (..., H, dv) -> (..., D)."""
        normed = o * torch.rsqrt(o.pow(2).mean(-1, keepdim=True) + self.eps) * self.norm_weight
        return self.o_proj(normed.flatten(-2) * F.silu(self.g_proj(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._output(x, gla_chunked(*self._inputs(x), chunk_size=self.chunk_size))

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        return gla_init_state(batch_size, self.heads, self.key_dim, self.value_dim, device, dtype)

    def step(self, x_t: torch.Tensor, state):
        o, state = gla_step(*self._inputs(x_t), state)
        return self._output(x_t, o), state
