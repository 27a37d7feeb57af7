"""Mamba (``mamba``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.ssm.mamba``; this module is imported only when a model is built."""
from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.ssm.common_nn import dt_bias_init, seeded_init
from blocks.library.ssm.mamba import mamba_dt_rank
from blocks.ops.selective_scan import selective_scan, selective_scan_step
from blocks.optim import hint


class Mamba(nn.Module):
    """Mamba block (Gu & Dao 2023), as in mamba_simple.py: input-dependent (selective) SSM.

    x -> in_proj -> (x, z); x -> causal depthwise conv -> SiLU -> x_proj -> (dt, B, C);
    y = selective_scan(x, softplus(dt_proj(dt)), A, B, C, D) * silu(z) -> out_proj.
    """

    def __init__(
        self,
        d_model: int,
        *,
        max_seq_len: int,
        layer_idx: int = 0,
        seed: int = 0,
        d_state: int = 16,
        d_conv: int = 4,
        expand: int = 2,
        dt_rank: int = 0,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
    ):
        super().__init__()
        assert d_state >= 1 and d_conv >= 1 and expand >= 1, "d_state, d_conv and expand must be >= 1"
        assert dt_rank >= 0, "dt_rank must be >= 0 (0 means ceil(d_model / 16))"
        self.d_model, self.d_state, self.d_conv = d_model, d_state, d_conv
        self.d_inner = expand * d_model
        self.dt_rank = mamba_dt_rank(d_model, dt_rank)
        d_inner = self.d_inner
        with seeded_init(seed):
            self.in_proj = nn.Linear(d_model, 2 * d_inner, bias=False)
            self.conv1d = nn.Conv1d(d_inner, d_inner, d_conv, groups=d_inner, padding=d_conv - 1)
            self.x_proj = nn.Linear(d_inner, self.dt_rank + 2 * d_state, bias=False)
            self.dt_proj = nn.Linear(self.dt_rank, d_inner, bias=True)
            self._init_dt(dt_min, dt_max)
            # S4D-Real init: A_n = -(n + 1), kept as log so A stays negative
            A = torch.arange(1, d_state + 1, dtype=torch.float32).repeat(d_inner, 1)  # (d_inner, N)
            self.A_log = nn.Parameter(torch.log(A))
            self.D = nn.Parameter(torch.ones(d_inner))
            hint(self.A_log, self.D)  # mamba_simple.py: _no_weight_decay
            self.out_proj = nn.Linear(d_inner, d_model, bias=False)

    def _init_dt(self, dt_min: float, dt_max: float) -> None:
        """dt_proj as in mamba_simple.py: softplus(bias) log-uniform in [dt_min, dt_max]."""
        std = self.dt_rank**-0.5
        nn.init.uniform_(self.dt_proj.weight, -std, std)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt_bias_init(self.d_inner, dt_min, dt_max))

    def _split_x_proj(self, x_dbl: torch.Tensor):
        return torch.split(x_dbl, [self.dt_rank, self.d_state, self.d_state], dim=-1)

    def _causal_conv(self, x: torch.Tensor) -> torch.Tensor:
        """The depthwise causal conv1d on x (B, L, E), kept in this layout: out_t = bias +
        sum_k w_k x_{t-K+1+k}, as ``step`` computes it.

        conv1d wants (B, E, L), and switching layouts there and back costs strided copies that
        grow faster than L (cache and TLB misses); K shifted multiply-adds stay contiguous.
        """
        length, taps = x.shape[1], self.d_conv
        weight = self.conv1d.weight.squeeze(1)  # (E, K)
        padded = F.pad(x, (0, 0, taps - 1, 0))  # (B, L + K - 1, E), zeros before the start
        out = torch.addcmul(self.conv1d.bias, padded[:, taps - 1 :], weight[:, taps - 1])
        for k in range(taps - 1):
            out = torch.addcmul(out, padded[:, k : k + length], weight[:, k])
        return out

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        # Everything stays (B, L, .) in memory; the scan takes (B, E, L) views of it, and gives y
        # back in the same layout, so no op here or in the scan copies across layouts.
        x, z = self.in_proj(hidden).chunk(2, dim=-1)  # (B, L, E) each
        x = F.silu(self._causal_conv(x))
        dt, B, C = self._split_x_proj(self.x_proj(x))  # (B, L, R), (B, L, N) x2
        delta = dt @ self.dt_proj.weight.T  # (B, L, E)
        y = selective_scan(
            x.transpose(1, 2),
            delta.transpose(1, 2),
            -torch.exp(self.A_log),
            B.transpose(1, 2),
            C.transpose(1, 2),
            D=self.D,
            z=z.transpose(1, 2),
            delta_bias=self.dt_proj.bias,
            delta_softplus=True,
        )  # (B, E, L)
        return self.out_proj(y.transpose(1, 2))  # (B, L, D)

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        conv_state = torch.zeros(batch_size, self.d_inner, self.d_conv, device=device, dtype=dtype)
        ssm_state = torch.zeros(batch_size, self.d_inner, self.d_state, device=device, dtype=dtype)
        return conv_state, ssm_state

    def step(self, hidden_t: torch.Tensor, state):
        conv_state, ssm_state = state
        x, z = self.in_proj(hidden_t).chunk(2, dim=-1)  # (B, E) each
        conv_state = torch.cat([conv_state[..., 1:], x.unsqueeze(-1)], dim=-1)  # (B, E, d_conv)
        x = (conv_state * self.conv1d.weight.squeeze(1)).sum(-1) + self.conv1d.bias
        x = F.silu(x)
        dt, B, C = self._split_x_proj(self.x_proj(x))
        y, ssm_state = selective_scan_step(
            ssm_state,
            x,
            dt @ self.dt_proj.weight.T,
            -torch.exp(self.A_log),
            B,
            C,
            D=self.D,
            z_t=z,
            delta_bias=self.dt_proj.bias,
            delta_softplus=True,
        )
        return self.out_proj(y), (conv_state, ssm_state)
