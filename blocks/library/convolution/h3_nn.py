"""H3 (Hungry Hungry Hippos) (``h3``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.convolution.h3``; this module is imported only when a model is built."""
from __future__ import annotations

import math

import torch
from torch import nn

from blocks.library.convolution.common_nn import CausalDepthwiseConv
from blocks.library.convolution.h3 import h3_heads
from blocks.ops.diag_ssm import (
    diag_ssm_init_state,
    diag_ssm_step,
    fft_causal_conv,
    zoh_kernel,
    zoh_step_params,
)
from blocks.optim import SSM_LR_MAX, hint


# --------------------------------------------------------------------------- H3


class DiagonalSSMKernel(nn.Module):
    """Per-head diagonal SSM (S4D-Lin init) giving a causal kernel K (heads, L) and skip D (heads,).

    A_n = -1/2 + i pi n, dt log-uniform in [1e-3, 1e-1], C complex normal; the kernel and
    the matching recurrence come from ``blocks.ops.diag_ssm``.
    """

    def __init__(self, heads: int, d_state: int, dt_min: float = 1e-3, dt_max: float = 1e-1):
        super().__init__()
        assert d_state >= 2 and d_state % 2 == 0, f"d_state must be even (conjugate pairs), got {d_state}"
        half = d_state // 2
        self.log_dt = nn.Parameter(torch.rand(heads) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        self.A_real_log = nn.Parameter(torch.full((heads, half), math.log(0.5)))
        self.A_imag = nn.Parameter(math.pi * torch.arange(half, dtype=torch.float32).repeat(heads, 1))
        # Complex C stored as (real, imag) pairs: optimisers and the param count see real numbers.
        self.C = nn.Parameter(torch.randn(heads, half, 2) * math.sqrt(0.5))
        self.D = nn.Parameter(torch.randn(heads))
        hint(self.log_dt, self.A_real_log, self.A_imag, lr_max=SSM_LR_MAX)  # as S4D (blocks.library.ssm.s4d_nn)
        hint(self.C)

    def kernel(self, length: int) -> torch.Tensor:
        return zoh_kernel(self.log_dt, self.A_real_log, self.A_imag, torch.view_as_complex(self.C), length)

    def step_params(self) -> tuple[torch.Tensor, torch.Tensor]:
        return zoh_step_params(self.log_dt, self.A_real_log, self.A_imag, torch.view_as_complex(self.C))


class H3(nn.Module):
    """H3 layer (Dao et al. 2023): y = out_proj(Q * diagSSM(shiftSSM(K) * V)), multi-head.

    The shift SSM (A = shift matrix, B = e_1) is exactly a learned causal FIR filter of
    d_state taps per channel, so it is computed as one: that lets K remember the last few
    tokens. With head_dim p = d_model / heads, each head forms the outer product
    shift(K)_i V_j (p x p channels), runs it through the head's diagonal SSM (one kernel
    shared by the head's p^2 channels, plus skip D), and contracts with Q_i:
    y_j = sum_i Q_i SSM(shift(K)_i V_j). The shift filter's tap 0 already gives K a skip
    path, so H3's separate D for the shift SSM is not repeated here. ``heads=0`` (the default)
    means d_model heads of head_dim 1, with d_state 64: the reference's defaults.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 heads: int = 0, d_state: int = 64):
        super().__init__()
        heads = h3_heads(d_model, {"heads": heads})
        assert d_model % heads == 0, f"heads ({heads}) must divide d_model ({d_model})"
        self.d_model, self.heads, self.head_dim = d_model, heads, d_model // heads
        self.d_state, self.layer_idx = d_state, layer_idx
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.shift = CausalDepthwiseConv(d_model, d_state, bias=False)
        nn.init.normal_(self.shift.conv.weight, std=d_state ** -0.5)
        self.ssm = DiagonalSSMKernel(heads, d_state)
        self.out_proj = nn.Linear(d_model, d_model)

    def _split_heads(self, t: torch.Tensor) -> torch.Tensor:
        return t.reshape(t.shape[0], self.heads, self.head_dim, *t.shape[2:])  # (B, H, p, ...)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        assert D == self.d_model, f"expected last dim {self.d_model}, got {tuple(x.shape)}"
        H, p = self.heads, self.head_dim
        q = self._split_heads(self.q_proj(x).transpose(1, 2))  # (B, H, p, L)
        k = self._split_heads(self.shift(self.k_proj(x).transpose(1, 2)))  # (B, H, p, L)
        v = self._split_heads(self.v_proj(x).transpose(1, 2))  # (B, H, p, L)
        kv = k.unsqueeze(3) * v.unsqueeze(2)  # (B, H, p_i, p_j, L)
        kernel = self.ssm.kernel(L).repeat_interleave(p * p, dim=0)  # (H p p, L)
        flat = kv.reshape(B, H * p * p, L)
        s = fft_causal_conv(flat, kernel).view(B, H, p, p, L) + self.ssm.D.view(1, H, 1, 1, 1) * kv
        y = (q.unsqueeze(3) * s).sum(dim=2)  # (B, H, p_j, L)
        return self.out_proj(y.reshape(B, D, L).transpose(1, 2))  # (B, L, D)

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        """(last d_state-1 projected K inputs (B, D, d_state-1), SSM state (B, H p p, d_state/2) complex)."""
        window = torch.zeros(batch_size, self.d_model, self.d_state - 1, device=device, dtype=dtype)
        channels = self.heads * self.head_dim ** 2
        return window, diag_ssm_init_state(batch_size, channels, self.d_state // 2, device=device, dtype=dtype)

    def step(self, x_t: torch.Tensor, state):
        """x_t (B, D) -> (y_t (B, D), state): the same computation as forward, one position."""
        window, ssm_state = state
        B, H, p = x_t.shape[0], self.heads, self.head_dim
        q = self.q_proj(x_t).view(B, H, p)
        k, window = self.shift.step(self.k_proj(x_t), window)
        kv = k.view(B, H, p, 1) * self.v_proj(x_t).view(B, H, 1, p)  # (B, H, p_i, p_j)
        dA, dB_C = self.ssm.step_params()  # (H, N/2) each
        flat = kv.reshape(B, H * p * p)
        s, ssm_state = diag_ssm_step(flat, ssm_state, dA.repeat_interleave(p * p, 0), dB_C.repeat_interleave(p * p, 0))
        s = s.view(B, H, p, p) + self.ssm.D.view(1, H, 1, 1) * kv
        y = (q.unsqueeze(3) * s).sum(dim=2)  # (B, H, p_j)
        return self.out_proj(y.reshape(B, self.d_model)), (window, ssm_state)
