"""DeltaNet and Gated DeltaNet (``deltanet``) as a torch module. Its registry entry (params, cost
model) is ``blocks.library.recurrent.deltanet``; this module is imported only when a model is built."""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.ssm.common_nn import dt_bias_init, seeded_init
from blocks.optim import hint
from blocks.ops.delta_rule import delta_rule_chunked, delta_rule_init_state, delta_rule_step


class DeltaNet(nn.Module):
    """DeltaNet (Yang et al. 2024) and, with ``gated``, Gated DeltaNet, as flash-linear-attention's layers
    without their short convolutions.

    q, k: silu then L2 norm per head (q scaled by key_dim^-0.5); beta_t = sigmoid(x W_b) per head;
    gated: log alpha_t = -exp(A_log) softplus(x W_a + dt_bias) per head (Mamba-2's decay) and a swish
    output gate. Delta rule memory, per-head RMS norm, projection. ``forward`` is the chunked (UT
    transform) form, ``step`` the recurrent one.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, heads: int = 4,
                 expand_v: float = 1.0, gated: bool = False, chunk_size: int = 64, norm_eps: float = 1e-5):
        super().__init__()
        value_width = int(d_model * expand_v)
        assert d_model % heads == 0 and value_width % heads == 0, \
            f"heads ({heads}) must divide d_model ({d_model}) and the value width ({value_width})"
        assert chunk_size >= 1, "chunk_size must be positive"
        self.heads, self.key_dim, self.value_dim = heads, d_model // heads, value_width // heads
        self.gated, self.chunk_size, self.eps = gated, chunk_size, norm_eps
        with seeded_init(seed):
            self.q_proj = nn.Linear(d_model, d_model, bias=False)
            self.k_proj = nn.Linear(d_model, d_model, bias=False)
            self.v_proj = nn.Linear(d_model, value_width, bias=False)
            self.b_proj = nn.Linear(d_model, heads, bias=False)
            if gated:
                self.a_proj = nn.Linear(d_model, heads, bias=False)
                self.g_proj = nn.Linear(d_model, value_width, bias=False)
                # fla's GatedDeltaNet: A ~ U(0, 16), dt ~ logU(1e-3, 1e-1) stored as softplus^-1(dt).
                self.A_log = nn.Parameter(torch.log(torch.empty(heads).uniform_(0, 16)))
                self.dt_bias = nn.Parameter(dt_bias_init(heads, 0.001, 0.1))
                hint(self.A_log, self.dt_bias)  # fla: _no_weight_decay
            self.o_proj = nn.Linear(value_width, d_model, bias=False)
        self.norm_weight = nn.Parameter(torch.ones(self.value_dim))  # one RMS norm shared by the heads

    def _inputs(self, x: torch.Tensor):
        """q (scaled), k, v, beta and log alpha (None ungated) per head from x (..., D)."""
        q = F.normalize(F.silu(self.q_proj(x)).unflatten(-1, (self.heads, self.key_dim)), dim=-1)
        k = F.normalize(F.silu(self.k_proj(x)).unflatten(-1, (self.heads, self.key_dim)), dim=-1)
        v = self.v_proj(x).unflatten(-1, (self.heads, self.value_dim))
        beta = torch.sigmoid(self.b_proj(x))
        log_alpha = -self.A_log.exp() * F.softplus(self.a_proj(x) + self.dt_bias) if self.gated else None
        return q * self.key_dim**-0.5, k, v, beta, log_alpha

    def _output(self, x: torch.Tensor, o: torch.Tensor) -> torch.Tensor:
        normed = (o * torch.rsqrt(o.pow(2).mean(-1, keepdim=True) + self.eps) * self.norm_weight).flatten(-2)
        if self.gated:
            normed = normed * F.silu(self.g_proj(x))
        return self.o_proj(normed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._output(x, delta_rule_chunked(*self._inputs(x), chunk_size=self.chunk_size))

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        return delta_rule_init_state(batch_size, self.heads, self.key_dim, self.value_dim, device, dtype)

    def step(self, x_t: torch.Tensor, state):
        q, k, v, beta, log_alpha = self._inputs(x_t)
        o, state = delta_rule_step(q, k, v, beta, state, log_alpha)
        return self._output(x_t, o), state
