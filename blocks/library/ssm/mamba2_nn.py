"""Mamba-2 (``mamba2``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.ssm.mamba2``; this module is imported only when a model is built."""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.ssm.common_nn import dt_bias_init, seeded_init
from blocks.optim import hint
from blocks.ops.ssd import ssd_chunked, ssd_init_state, ssd_step


class Mamba2(nn.Module):
    """Mamba-2 (Dao & Gu 2024), as mamba_ssm's Mamba2 with one group of B and C.

    in_proj -> z, x, B, C, dt; depthwise causal conv + silu on (x, B, C); SSD with A = -exp(A_log)
    per head (scalar times identity), dt = softplus(. + dt_bias); + D x; RMS norm of y * silu(z);
    out_proj. ``forward`` is the chunked form, ``step`` the recurrent one (conv window and SSM state).
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, d_state: int = 128,
                 d_conv: int = 4, expand: int = 2, headdim: int = 64, chunk_size: int = 256,
                 dt_min: float = 0.001, dt_max: float = 0.1, norm_eps: float = 1e-5):
        super().__init__()
        self.d_inner, self.d_state, self.d_conv = expand * d_model, d_state, d_conv
        self.headdim = min(headdim, self.d_inner)
        assert self.d_inner % self.headdim == 0, \
            f"headdim ({self.headdim}) must divide the inner width ({self.d_inner} = expand * d_model)"
        self.heads, self.chunk_size, self.eps = self.d_inner // self.headdim, chunk_size, norm_eps
        conv_dim = self.d_inner + 2 * d_state
        with seeded_init(seed):
            self.in_proj = nn.Linear(d_model, 2 * self.d_inner + 2 * d_state + self.heads, bias=False)
            self.conv1d = nn.Conv1d(conv_dim, conv_dim, d_conv, groups=conv_dim, padding=d_conv - 1)
            self.dt_bias = nn.Parameter(dt_bias_init(self.heads, dt_min, dt_max))
            self.A_log = nn.Parameter(torch.log(torch.empty(self.heads).uniform_(1, 16)))
            self.D = nn.Parameter(torch.ones(self.heads))
            hint(self.A_log, self.D, self.dt_bias)  # mamba2.py: _no_weight_decay
            self.norm_weight = nn.Parameter(torch.ones(self.d_inner))
            self.out_proj = nn.Linear(self.d_inner, d_model, bias=False)

    def _split(self, projected: torch.Tensor):
        return torch.split(projected, [self.d_inner, self.d_inner + 2 * self.d_state, self.heads], dim=-1)

    def _ssm_inputs(self, xBC: torch.Tensor, dt: torch.Tensor):
        x, B, C = torch.split(F.silu(xBC), [self.d_inner, self.d_state, self.d_state], dim=-1)
        return x.unflatten(-1, (self.heads, self.headdim)), F.softplus(dt + self.dt_bias), B, C

    def _output(self, y: torch.Tensor, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        y = (y + self.D[:, None] * x).flatten(-2) * F.silu(z)
        return self.out_proj(y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + self.eps) * self.norm_weight)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        z, xBC, dt = self._split(self.in_proj(hidden))
        xBC = self.conv1d(xBC.transpose(1, 2))[..., : hidden.shape[1]].transpose(1, 2)
        x, dt, B, C = self._ssm_inputs(xBC, dt)
        y = ssd_chunked(x, dt, -torch.exp(self.A_log), B, C, self.chunk_size)
        return self._output(y, x, z)

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        conv_state = torch.zeros(batch_size, self.conv1d.in_channels, self.d_conv, device=device, dtype=dtype)
        return conv_state, ssd_init_state(batch_size, self.heads, self.d_state, self.headdim, device, dtype)

    def step(self, hidden_t: torch.Tensor, state):
        conv_state, ssm_state = state
        z, xBC, dt = self._split(self.in_proj(hidden_t))
        conv_state = torch.cat([conv_state[..., 1:], xBC.unsqueeze(-1)], dim=-1)
        xBC = (conv_state * self.conv1d.weight.squeeze(1)).sum(-1) + self.conv1d.bias
        x, dt, B, C = self._ssm_inputs(xBC, dt)
        y, ssm_state = ssd_step(x, dt, -torch.exp(self.A_log), B, C, ssm_state)
        return self._output(y, x, z), (conv_state, ssm_state)
