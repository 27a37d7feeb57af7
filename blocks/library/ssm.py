"""Blocks of the ssm family: S4D (diagonal SSM, FFT convolution) and Mamba (selective scan).

Each block is the mixer only (the compiler adds the pre-norm and the residual): forward maps
(batch, length, d_model) to the same shape, and ``init_state`` / ``step`` run the same
computation one token at a time.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

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
from blocks.ops.selective_scan import selective_scan, selective_scan_step
from blocks.optim import SSM_LR_MAX, hint
from blocks.registry import BlockType, Cost, Param, register

FLOAT_BYTES = 4


@contextmanager
def seeded_init(seed: int):
    """Initialise parameters from ``seed`` without disturbing the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


# --------------------------------------------------------------------------- S4D


class S4D(nn.Module):
    """S4D layer (Gu et al. 2022): per-channel diagonal SSM kernel, D skip, GELU, linear + GLU.

    S4D-Lin initialisation: A_n = -1/2 + i pi n, dt log-uniform in [dt_min, dt_max], C ~ CN(0, 1).
    """

    def __init__(
        self,
        d_model: int,
        *,
        max_seq_len: int,
        layer_idx: int = 0,
        seed: int = 0,
        d_state: int = 64,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
    ):
        super().__init__()
        assert d_state >= 2 and d_state % 2 == 0, f"d_state must be even (conjugate pairs), got {d_state}"
        assert 0 < dt_min < dt_max, f"need 0 < dt_min < dt_max, got {dt_min}, {dt_max}"
        self.d_model, self.d_state, self.max_seq_len = d_model, d_state, max_seq_len
        half = d_state // 2
        with seeded_init(seed):
            log_dt = torch.rand(d_model) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
            self.log_dt = nn.Parameter(log_dt)  # (H,)
            self.A_real_log = nn.Parameter(torch.full((d_model, half), math.log(0.5)))  # (H, N/2)
            self.A_imag = nn.Parameter(math.pi * torch.arange(half).float().repeat(d_model, 1))
            # C complex (H, N/2) stored as real pairs so every parameter counts as real numbers
            self.C = nn.Parameter(torch.randn(d_model, half, 2) * math.sqrt(0.5))  # CN(0, 1)
            self.D = nn.Parameter(torch.randn(d_model))
            # As S4's reference registers them: the state-space parameters train without weight
            # decay and at a learning rate of at most 1e-3; C is not decayed either.
            hint(self.log_dt, self.A_real_log, self.A_imag, lr_max=SSM_LR_MAX)
            hint(self.C)
            self.output_linear = nn.Linear(d_model, 2 * d_model)  # then GLU back to d_model

    def _C(self) -> torch.Tensor:
        return torch.view_as_complex(self.C)

    def kernel(self, length: int) -> torch.Tensor:
        """The SSM convolution kernel (H, length)."""
        return zoh_kernel(self.log_dt, self.A_real_log, self.A_imag, self._C(), length)

    def _output(self, y: torch.Tensor) -> torch.Tensor:
        """GELU then a position-wise linear to 2H and GLU: (..., H) -> (..., H)."""
        return F.glu(self.output_linear(F.gelu(y)), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        u = x.transpose(1, 2)  # (B, H, L)
        y = fft_causal_conv(u, self.kernel(length)) + u * self.D.unsqueeze(-1)  # (B, H, L)
        return self._output(y.transpose(1, 2))  # (B, L, H)

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        return diag_ssm_init_state(batch_size, self.d_model, self.d_state // 2, device, dtype)

    def step(self, x_t: torch.Tensor, state: torch.Tensor):
        dA, dB_C = zoh_step_params(self.log_dt, self.A_real_log, self.A_imag, self._C())
        y_t, state = diag_ssm_step(x_t, state, dA, dB_C)  # (B, H)
        return self._output(y_t + x_t * self.D), state


def s4d_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    H, N = d_model, params["d_state"]
    n_params = 2 * H * H + 2 * H * N + 4 * H  # output linear, A (2 x N/2), C (N), log_dt, D
    log_len = math.log2(max(2 * seq_len, 2))
    # Per token: kernel generation (N/2 complex exp + mul-add per channel ~ 8 real flops),
    # three length-2L real FFTs (~2.5 n log2 n each, over L tokens), D skip, GELU, linear + GLU.
    flops = H * (N / 2) * 8 + 3 * 2.5 * 2 * H * log_len + 2 * H + 8 * H + 2 * H * 2 * H + 4 * H
    # Kept for backward per token: u, the FFT product (2L complex -> ~4 floats), y, GELU, linear out (2H).
    activations = seq_len * H * (1 + 4 + 1 + 1 + 2) * FLOAT_BYTES + H * N * seq_len * FLOAT_BYTES
    return Cost(n_params, float(flops), float(activations))


def s4d_state(d_model: int, seq_len: int, params: dict) -> float:
    # N/2 complex modes per channel = N floats, whatever the length.
    return float(d_model * params["d_state"] * FLOAT_BYTES)


def s4d_check(d_model: int, max_seq_len: int, params: dict):
    if params["d_state"] % 2:
        yield "d_state", "d_state must be even: S4D keeps N/2 complex-conjugate pairs"
    if params["dt_min"] >= params["dt_max"]:
        yield "dt_min", "dt_min must be smaller than dt_max"


register(
    BlockType(
        name="s4d",
        family="ssm",
        title="S4D",
        description="Diagonal state-space model: a long causal convolution whose kernel comes "
        "from a ZOH-discretised diagonal SSM, computed by FFT (S4D-Lin init).",
        paper="Gu, Gupta, Goel, Ré. On the Parameterization and Initialization of Diagonal "
        "State Space Models. NeurIPS 2022. arXiv:2206.11893",
        params=(
            Param("d_state", "int", 64, "state size N per channel (N/2 complex-conjugate pairs)",
                  min=2, max=512),
            Param("dt_min", "float", 0.001, "smallest initial step size (log-uniform init)",
                  min=1e-5, max=1.0),
            Param("dt_max", "float", 0.1, "largest initial step size (log-uniform init)", min=1e-4, max=10.0),
        ),
        build=S4D,
        cost=s4d_cost,
        state=s4d_state,
        complexity="O(L log L)",
        causal=True,
        recurrent=True,
        check=s4d_check,
        tags=("long-range", "convolution"),
    )
)


# --------------------------------------------------------------------------- Mamba


def mamba_dt_rank(d_model: int, dt_rank: int) -> int:
    """The rank of the delta projection: ``dt_rank``, or ceil(d_model / 16) when it is 0."""
    return dt_rank if dt_rank > 0 else math.ceil(d_model / 16)


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
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min))
        dt = dt.clamp(min=1e-4)
        with torch.no_grad():
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))  # inverse softplus

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


def mamba_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, N, K = d_model, params["d_state"], params["d_conv"]
    E = params["expand"] * d
    R = mamba_dt_rank(d, params["dt_rank"])
    n_params = (
        d * 2 * E  # in_proj
        + E * K + E  # depthwise conv + bias
        + E * (R + 2 * N)  # x_proj
        + R * E + E  # dt_proj
        + E * N + E  # A_log, D
        + E * d  # out_proj
    )
    matmuls = 2 * (d * 2 * E + E * K + E * (R + 2 * N) + R * E + E * d)
    # Scan per channel and state: exp(dt A), decay * h + dt B u, C . h (~6 flops); softplus,
    # SiLU twice, gate and D skip per channel (~10 flops).
    flops = matmuls + 6 * E * N + 10 * E
    # Kept per token: in_proj out (2E), conv out and its SiLU (2E), x_proj out (R + 2N),
    # delta (E), y and gated y (2E), and the scan's per-state tensors (~4 of E x N).
    per_token = 2 * E + 2 * E + (R + 2 * N) + E + 2 * E + 4 * E * N
    return Cost(n_params, float(flops), float(seq_len * per_token * FLOAT_BYTES))


def mamba_state(d_model: int, seq_len: int, params: dict) -> float:
    # Per inner channel: the SSM state (d_state) and the conv window (d_conv inputs), whatever the length.
    return float(params["expand"] * d_model * (params["d_state"] + params["d_conv"]) * FLOAT_BYTES)


def mamba_check(d_model: int, max_seq_len: int, params: dict):
    if params["d_conv"] > max_seq_len:
        yield "d_conv", f"d_conv ({params['d_conv']}) must not exceed max_seq_len ({max_seq_len})"
    if params["dt_rank"] > params["expand"] * d_model:
        yield "dt_rank", "dt_rank must not exceed expand * d_model (the inner width)"


register(
    BlockType(
        name="mamba",
        family="ssm",
        title="Mamba",
        description="Selective state-space block: input-dependent dt, B, C with a gated "
        "depthwise-conv branch; linear-time scan with a constant-size recurrent state.",
        paper="Gu, Dao. Mamba: Linear-Time Sequence Modeling with Selective State Spaces. "
        "2023. arXiv:2312.00752",
        params=(
            Param("d_state", "int", 16, "SSM state size N per channel", min=1, max=256),
            Param("d_conv", "int", 4, "width of the causal depthwise convolution", min=1, max=16),
            Param("expand", "int", 2, "inner width = expand * d_model", min=1, max=8),
            Param("dt_rank", "int", 0, "rank of the dt projection; 0 = ceil(d_model / 16)", min=0, max=1024),
        ),
        build=Mamba,
        cost=mamba_cost,
        state=mamba_state,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        check=mamba_check,
        tags=("selective", "linear-time"),
    )
)
