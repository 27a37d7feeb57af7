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
from blocks.optim import SSM_LR_MAX, hint
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


# --------------------------------------------------------------------------- short convolution


class ShortConv(nn.Module):
    """A short causal depthwise convolution over the sequence, optionally gated (BaseConv).

    Plain: y = conv_k(x), each channel a learned filter over the last ``kernel_size`` tokens:
    the token shift that Zoology's and Based's attention layers carry, and that lets a layer
    after it see the previous token without learning a positional attention pattern.
    Gated (BaseConv, Arora et al. 2023, Zoology): y = out_proj(in_proj(x) * conv_k(x)).
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 kernel_size: int = 4, gated: bool = False):
        super().__init__()
        self.d_model, self.kernel_size, self.gated = d_model, kernel_size, gated
        self.conv = CausalDepthwiseConv(d_model, kernel_size, bias=True)
        self.in_proj = nn.Linear(d_model, d_model) if gated else None
        self.out_proj = nn.Linear(d_model, d_model) if gated else None

    def _mix(self, x: torch.Tensor, conv: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.in_proj(x) * conv) if self.gated else conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._mix(x, self.conv(x.transpose(1, 2)).transpose(1, 2))

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        """The last kernel_size - 1 inputs (B, D, K - 1), oldest first."""
        return torch.zeros(batch_size, self.d_model, self.kernel_size - 1, device=device, dtype=dtype)

    def step(self, x_t: torch.Tensor, window: torch.Tensor):
        conv, window = self.conv.step(x_t, window)
        return self._mix(x_t, conv), window


SHORT_CONV_PARAMS = (
    Param("kernel_size", "int", 4, "Tokens each output sees: this one and kernel_size - 1 before it.", min=1, max=64),
    Param("gated", "bool", False, "Gate the convolution with a linear projection of the input and project "
          "the product back (BaseConv).", ),
)


def short_conv_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, k = d_model, params["kernel_size"]
    count, flops, floats = d * k + d, 2 * d * k, 2 * d
    if params["gated"]:
        count += 2 * (d * d + d)
        flops += 2 * (2 * d * d) + d
        floats += 2 * d
    return Cost(params=count, flops_per_token=float(flops), activation_bytes=float(seq_len * floats * BYTES_PER_FLOAT))


def short_conv_state(d_model: int, seq_len: int, params: dict) -> float:
    return float(d_model * (params["kernel_size"] - 1) * BYTES_PER_FLOAT)


def fits_sequence(param: str):
    """The registry check of a block whose ``param`` counts tokens: at most max_seq_len of them."""
    def check(d_model: int, max_seq_len: int, params: dict):
        if params[param] > max_seq_len:
            yield param, f"{param} ({params[param]}) must be <= max_seq_len ({max_seq_len})"

    return check


register(
    BlockType(
        name="short_conv",
        family="convolution",
        title="Short convolution",
        description="A causal depthwise convolution over the last few tokens (a learned token shift), "
        "optionally gated as BaseConv; gives the next layer the previous tokens for free.",
        paper="Arora et al. 2023, Zoology: Measuring and Improving Recall in Efficient Language Models (BaseConv)",
        params=SHORT_CONV_PARAMS,
        build=ShortConv,
        cost=short_conv_cost,
        state=short_conv_state,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        check=fits_sequence("kernel_size"),
        tags=("convolution", "token-shift", "linear-time"),
    )
)


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


def hyena_state(d_model: int, seq_len: int, params: dict) -> float:
    """No recurrent form: the implicit filters are as long as the sequence, so exact decoding keeps
    the whole input history of each of the order - 1 long convolutions (grows with L), plus the
    short conv's window of short_filter - 1 inputs."""
    n, k = params["order"], params["short_filter"]
    return float(((n - 1) * d_model * seq_len + (n + 1) * d_model * (k - 1)) * BYTES_PER_FLOAT)


register(
    BlockType(
        name="hyena",
        family="convolution",
        title="Hyena",
        description="Gated implicit long convolutions: an FFN over positions generates filters as long "
        "as the sequence, applied by FFT between data-controlled gates.",
        paper="Poli et al. 2023, Hyena Hierarchy: Towards Larger Convolutional Language Models",
        params=HYENA_PARAMS,
        build=Hyena,
        cost=hyena_cost,
        state=hyena_state,
        complexity="O(L log L)",
        causal=True,
        recurrent=False,
        check=fits_sequence("short_filter"),
        tags=("attention-free", "long-convolution", "fft"),
    )
)


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
        hint(self.log_dt, self.A_real_log, self.A_imag, lr_max=SSM_LR_MAX)  # as S4D (blocks.library.ssm)
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


H3_PARAMS = (
    Param("heads", "int", 0, "Heads; head_dim = d_model / heads and each head mixes head_dim^2 "
          "key-value channels (cost grows with head_dim). 0: d_model heads of head_dim 1, as the "
          "paper's reference (head_dim 1).", min=0, max=4096),
    Param("d_state", "int", 64, "State size N of the diagonal SSM (N/2 complex modes) and the "
          "length of the shift filter on K (the paper's 64). Even.", min=2, max=256),
)


def h3_heads(d_model: int, params: dict) -> int:
    """The number of heads: ``heads``, or d_model (head_dim 1) when it is 0."""
    return params["heads"] or d_model


def h3_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, heads, n = d_model, h3_heads(d_model, params), params["d_state"]
    p = max(1, d // heads)
    channels = heads * p * p  # key-value channels = d_model * head_dim
    count = 4 * (d * d + d) + d * n + heads * (2 * n + 2)  # 4 linears, shift taps, SSM (dt, A, C, D)
    # Kernel generation: heads * N/2 complex exponentials and products per position (~8 FLOPs each).
    kernel_flops = heads * (n // 2) * 8
    flops = (
        4 * (2 * d * d + d)  # q, k, v and out projections
        + 2 * n * d  # shift filter
        + channels  # outer product K_i V_j
        + channels * (fft_conv_flops_per_token(seq_len) + 2)  # diagonal SSM conv + D skip
        + 2 * channels  # contraction with Q
        + kernel_flops
    )
    # Kept per token: input, q, k (before and after shift), v, the p^2-channel kv tensor,
    # its spectra (~4 floats per channel) and SSM output, the head outputs.
    floats = 5 * d + channels * 6 + d
    return Cost(params=count, flops_per_token=float(flops), activation_bytes=float(seq_len * floats * BYTES_PER_FLOAT))


def h3_state(d_model: int, seq_len: int, params: dict) -> float:
    """Fixed: H3's long convolution is a diagonal SSM, so it decodes recurrently. The shift filter's
    window (d_state - 1 inputs per channel) and d_state/2 complex modes per key-value channel."""
    n, heads = params["d_state"], h3_heads(d_model, params)
    p = max(1, d_model // heads)
    return float((d_model * (n - 1) + heads * p * p * n) * BYTES_PER_FLOAT)


def h3_check(d_model: int, max_seq_len: int, params: dict):
    if d_model % h3_heads(d_model, params):
        yield "heads", f"heads ({params['heads']}) must divide d_model ({d_model})"
    if params["d_state"] % 2:
        yield "d_state", f"d_state ({params['d_state']}) must be even (complex conjugate pairs)"


register(
    BlockType(
        name="h3",
        family="convolution",
        title="H3 (Hungry Hungry Hippos)",
        description="Q * diagonal SSM(shift SSM(K) * V): two SSMs and multiplicative gates that "
        "recall and compare tokens, computed by FFT. Defaults are the reference's: head_dim 1 (heads 0 "
        "= d_model heads) and d_state 64, so the SSM runs over d_model key-value channels, not "
        "d_model * head_dim.",
        paper="Fu, Dao et al. 2023, Hungry Hungry Hippos: Towards Language Modeling with State Space Models",
        params=H3_PARAMS,
        build=H3,
        cost=h3_cost,
        state=h3_state,
        complexity="O(L log L)",
        causal=True,
        recurrent=True,
        check=h3_check,
        tags=("attention-free", "ssm", "fft"),
    )
)
