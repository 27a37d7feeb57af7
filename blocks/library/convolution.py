"""Blocks of the convolution family: Hyena (implicit long convolutions) and H3 (shift + diagonal SSM).

Both are attention-free mixers built from causal convolutions computed with FFTs (padded to
2L so nothing wraps around) and multiplicative gates. The compiler adds the pre-norm and
the residual; these modules are the mixers alone, (B, L, D) -> (B, L, D).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from blocks.ops.diag_ssm import (
    diag_ssm_init_state,
    diag_ssm_step,
    fft_causal_conv,
    zoh_kernel,
    zoh_step_params,
)
from blocks.registry import BlockType, Cost, Param, register

BYTES_PER_FLOAT = 4


def fft_conv_flops_per_token(seq_len: int) -> float:
    """FLOPs per token per channel of an FFT causal convolution at length L.

    Three real FFTs of size n = 2L (input, kernel, inverse) at ~2.5 n log2 n each, plus
    the complex product of L+1 frequencies (6 FLOPs each), spread over the L tokens.
    """
    n = 2 * seq_len
    return (3 * 2.5 * n * math.log2(n) + 6 * (seq_len + 1)) / seq_len


class CausalDepthwiseConv(nn.Module):
    """Per-channel causal FIR filter: x (B, C, L) -> (B, C, L), y[t] = sum_j w[j] x[t-K+1+j]."""

    def __init__(self, channels: int, kernel_size: int, bias: bool):
        super().__init__()
        assert kernel_size >= 1, f"kernel_size must be >= 1, got {kernel_size}"
        self.kernel_size = kernel_size
        self.conv = nn.Conv1d(channels, channels, kernel_size, groups=channels, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Left padding only: output t sees inputs t-K+1..t, never the future.
        return self.conv(F.pad(x, (self.kernel_size - 1, 0)))

    def step(self, x_t: torch.Tensor, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x_t (B, C); window (B, C, K-1) of the previous inputs, oldest first."""
        full = torch.cat([window, x_t.unsqueeze(-1)], dim=-1)  # (B, C, K)
        y_t = (full * self.conv.weight.squeeze(1)).sum(-1)  # (B, C)
        if self.conv.bias is not None:
            y_t = y_t + self.conv.bias
        return y_t, full[..., 1:]


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


HYENA_PARAMS = (
    Param("order", "int", 2, "Number of gates; order N uses N-1 long convolutions.", min=2, max=3),
    Param("filter_order", "int", 64, "Width of the FFN that generates the implicit long filter.", min=4, max=512),
    Param("short_filter", "int", 3, "Kernel size of the short causal depthwise conv after the in-projection.",
          min=1, max=16),
    Param("filter_bands", "int", 8, "Sine/cosine frequencies in the filter's positional features.", min=1, max=64),
)


def hyena_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, n, width = d_model, params["order"], params["filter_order"]
    k, emb = params["short_filter"], 1 + 2 * params["filter_bands"]
    inner, channels = (n + 1) * d, (n - 1) * d
    ffn_params = (emb * width + width) + 2 * (width * width + width) + width * channels + 3 * width  # + Sin freqs
    count = (d * inner + inner) + (inner * k + inner) + ffn_params + channels + (d * d + d)
    # The filter is generated once per sequence; one filter tap per channel per position.
    filter_flops = 2 * (emb * width + 2 * width * width + width * channels) + 3 * 2 * width + 3 * channels
    flops = (
        2 * d * inner + inner  # in_proj
        + 2 * k * inner  # short conv
        + filter_flops
        + channels * (fft_conv_flops_per_token(seq_len) + 2)  # long convs + D skip
        + n * d  # gates
        + 2 * d * d + d  # out_proj
    )
    # Kept per token: input, projection and short-conv outputs, per long conv its gated
    # input, two complex spectra of length ~L+1 (≈4 floats per tap) and output, the final
    # product; the filter FFN's hidden tensors (pre- and post-Sin) and the raw/windowed taps.
    floats = d + 2 * inner + channels * 6 + 2 * d + emb + 6 * width + 2 * channels
    return Cost(params=count, flops_per_token=float(flops), activation_bytes=float(seq_len * floats * BYTES_PER_FLOAT))


def hyena_check(d_model: int, max_seq_len: int, params: dict):
    if params["short_filter"] > max_seq_len:
        yield "short_filter", f"short_filter ({params['short_filter']}) must be <= max_seq_len ({max_seq_len})"


def build_hyena(d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, **params) -> Hyena:
    return Hyena(d_model, max_seq_len=max_seq_len, layer_idx=layer_idx, seed=seed, **params)


register(
    BlockType(
        name="hyena",
        family="convolution",
        title="Hyena",
        description="Gated implicit long convolutions: an FFN over positions generates filters as long "
        "as the sequence, applied by FFT between data-controlled gates.",
        paper="Poli et al. 2023, Hyena Hierarchy: Towards Larger Convolutional Language Models",
        params=HYENA_PARAMS,
        build=build_hyena,
        cost=hyena_cost,
        complexity="O(L log L)",
        causal=True,
        recurrent=False,
        check=hyena_check,
        tags=("attention-free", "long-convolution", "fft"),
    )
)
