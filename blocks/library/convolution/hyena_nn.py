"""Hyena (``hyena``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.convolution.hyena``; this module is imported only when a model is built."""
from __future__ import annotations

import math

import torch
from torch import nn

from blocks.library.convolution.common_nn import CausalDepthwiseConv
from blocks.ops.diag_ssm import fft_causal_conv
from blocks.optim import SSM_LR_MAX, hint


# --------------------------------------------------------------------------- Hyena


class Sin(nn.Module):
    """sin(freq * x) with a learned frequency per feature: the implicit filter's activation."""

    def __init__(self, width: int, freq: float = 1.0):
        super().__init__()
        self.freq = nn.Parameter(torch.full((1, width), freq))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sin(self.freq * x)


class HyenaFilter(nn.Module):
    """Implicit long filters h (channels, L) = window(t) * FFN(positional features of t).

    Features at position t (of max_seq_len): t / (max_seq_len - 1), and cos/sin of
    2 pi f t / max_seq_len for `bands` frequencies f. The FFN (Linear, Sin, Linear, Sin,
    Linear, Sin, Linear) maps them to one tap per channel; an exponential decay with a
    different rate per channel (fast to slow) windows it. Everything is defined on
    max_seq_len positions, so the filter for length L is the first L taps of the full one.
    Also holds the per-channel skip term D of the long convolution.
    """

    def __init__(self, channels: int, max_seq_len: int, width: int, bands: int,
                 fast_decay_pct: float = 0.3, slow_decay_pct: float = 1.5, target: float = 1e-2):
        super().__init__()
        assert width >= 1 and bands >= 1, f"need width >= 1 and bands >= 1, got {width}, {bands}"
        self.max_seq_len = max_seq_len
        positions = torch.arange(max_seq_len, dtype=torch.float32)  # (Lmax,)
        t = positions / max(1, max_seq_len - 1)  # in [0, 1]
        freqs = torch.linspace(1e-4, bands - 1, bands)  # (bands,)
        angle = 2 * math.pi * positions[:, None] * freqs[None, :] / max_seq_len  # (Lmax, bands)
        self.register_buffer("t", t[:, None], persistent=False)  # (Lmax, 1)
        self.register_buffer("features", torch.cat([t[:, None], angle.cos(), -angle.sin()], -1),
                             persistent=False)  # (Lmax, 1 + 2 bands)
        self.ffn = nn.Sequential(
            nn.Linear(1 + 2 * bands, width), Sin(width),
            nn.Linear(width, width), Sin(width),
            nn.Linear(width, width), Sin(width),
            nn.Linear(width, channels, bias=False),
        )
        # Decay rates spaced so the fastest channel falls to `target` by 30% of the
        # sequence and the slowest by 150%: a range of memory lengths (Hyena §3.3).
        rates = torch.linspace(math.log(target) / slow_decay_pct, math.log(target) / fast_decay_pct, channels)
        self.register_buffer("decay_rates", rates.abs(), persistent=False)  # (channels,)
        self.skip = nn.Parameter(torch.randn(channels))  # D: y = h * u + D u
        # Hyena's reference trains the implicit filter (its FFN and Sin frequencies) without
        # weight decay and at a learning rate of at most 1e-3.
        hint(*self.ffn.parameters(), lr_max=SSM_LR_MAX)

    def forward(self, length: int) -> torch.Tensor:
        assert length <= self.max_seq_len, f"length {length} exceeds max_seq_len {self.max_seq_len}"
        h = self.ffn(self.features[:length])  # (L, channels)
        h = h * torch.exp(-self.t[:length] * self.decay_rates)  # (L, channels)
        return h.transpose(0, 1)  # (channels, L)


class Hyena(nn.Module):
    """Hyena operator of order N (Poli et al. 2023): (B, L, D) -> (B, L, D).

    in_proj to (N+1) D, short causal depthwise conv, split into x_0..x_{N-1} and v; then
    for i = N-1 .. 1: v <- h_i * (x_i v) + D_i (x_i v) (long causal FFT conv); y = x_0 v;
    out_proj.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 order: int = 2, filter_order: int = 64, short_filter: int = 3, filter_bands: int = 8):
        super().__init__()
        assert order >= 2, f"Hyena needs order >= 2 (one long convolution), got {order}"
        assert max_seq_len >= 1, f"max_seq_len must be positive, got {max_seq_len}"
        self.d_model, self.order, self.layer_idx = d_model, order, layer_idx
        inner = (order + 1) * d_model
        self.in_proj = nn.Linear(d_model, inner)
        self.short_conv = CausalDepthwiseConv(inner, short_filter, bias=True)
        self.filter = HyenaFilter((order - 1) * d_model, max_seq_len, filter_order, filter_bands)
        self.out_proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        assert D == self.d_model, f"expected last dim {self.d_model}, got {tuple(x.shape)}"
        u = self.short_conv(self.in_proj(x).transpose(1, 2))  # (B, (N+1) D, L)
        *gates, v = u.split(D, dim=1)  # N gates and v, each (B, D, L)
        filters = self.filter(L).view(self.order - 1, D, L)  # (N-1, D, L)
        skips = self.filter.skip.view(self.order - 1, D, 1)  # (N-1, D, 1)
        for i, gate in enumerate(reversed(gates[1:])):
            v = v * gate  # (B, D, L)
            v = fft_causal_conv(v, filters[i]) + skips[i] * v  # (B, D, L)
        y = v * gates[0]  # (B, D, L)
        return self.out_proj(y.transpose(1, 2))  # (B, L, D)
