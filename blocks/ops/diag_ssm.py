"""Diagonal state-space model ops (S4D): ZOH kernel, FFT causal convolution, recurrent step.

A diagonal SSM per channel h with N/2 complex modes (the other N/2 are their conjugates):
    x'(t) = A x(t) + B u(t),   y(t) = 2 Re(C x(t)),   A = -exp(A_real_log) + i A_imag, B = 1.
Zero-order hold with step dt gives dA = exp(dt A), dB = (exp(dt A) - 1) / A, so
    K[h, l] = 2 Re( sum_n C[h, n] dB[h, n] dA[h, n]^l ),   y = K * u (causal convolution).
Used by the ``s4d`` block and by H3's shift/diagonal SSMs, which run the same kernel
in parallel (FFT) and the same recurrence step by step.
"""
from __future__ import annotations

import math

import torch


def _discretise(log_dt: torch.Tensor, A_real_log: torch.Tensor, A_imag: torch.Tensor):
    """dt A, A and dt as complex (H, N/2), after checking the shapes agree."""
    assert log_dt.dim() == 1, f"log_dt must be (H,), got {tuple(log_dt.shape)}"
    assert A_real_log.shape == A_imag.shape, "A_real_log and A_imag must have the same shape"
    assert A_real_log.shape[0] == log_dt.shape[0], "A and log_dt must have the same H"
    A = torch.complex(-torch.exp(A_real_log), A_imag)  # (H, N/2)
    dt = torch.exp(log_dt)  # (H,)
    dtA = A * dt.unsqueeze(-1)  # (H, N/2)
    return dtA, A


def zoh_step_params(
    log_dt: torch.Tensor, A_real_log: torch.Tensor, A_imag: torch.Tensor, C: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The discretised recurrence: (dA, dB_C), both complex (H, N/2).

    dA = exp(dt A) is the per-mode decay; dB_C = C * (exp(dt A) - 1) / A folds the input
    matrix and the readout together, so the state s = C x evolves as s <- dA s + dB_C u
    and y = 2 Re(sum_n s). This is exactly what ``zoh_kernel`` sums in closed form.
    """
    assert C.is_complex(), "C must be a complex tensor (H, N/2)"
    assert C.shape == A_real_log.shape, "C must be (H, N/2) like A"
    dtA, A = _discretise(log_dt, A_real_log, A_imag)
    dA = torch.exp(dtA)
    dB_C = C * (dA - 1.0) / A
    return dA, dB_C


def zoh_kernel(
    log_dt: torch.Tensor,
    A_real_log: torch.Tensor,
    A_imag: torch.Tensor,
    C: torch.Tensor,
    length: int,
) -> torch.Tensor:
    """S4D convolution kernel K (H, length), real: K[h, l] = 2 Re(sum_n dB_C[h, n] dA[h, n]^l)."""
    assert length >= 1, "length must be positive"
    dtA, A = _discretise(log_dt, A_real_log, A_imag)
    dB_C = C * (torch.exp(dtA) - 1.0) / A  # (H, N/2)
    # Write l = i + b j (0 <= i < b): dA^l = dA^i dA^(b j), so
    #     K[h, i + b j] = 2 Re( sum_n (dB_C dA^i)[h, n, i] (dA^(b j))[h, n, j] ),
    # one batched (b x N/2) @ (N/2 x L/b) product per channel. That is the same H N L
    # multiply-adds as summing the (H, N/2, L) Vandermonde tensor, without building it (a
    # gigabyte at L=16384) or taking H N L complex exps: only H N (b + L/b) of them, each of a
    # number with Re(dt A) < 0, so every power is stable.
    block = max(1, math.isqrt(length - 1) + 1)  # b >= sqrt(L)
    blocks = -(-length // block)
    real = dtA.real.dtype
    inner = torch.exp(dtA.unsqueeze(-1) * torch.arange(block, device=dtA.device, dtype=real))  # (H, N/2, b)
    outer = torch.exp(dtA.unsqueeze(-1) * (block * torch.arange(blocks, device=dtA.device, dtype=real)))  # (H, N/2, L/b)
    weighted = (dB_C.unsqueeze(-1) * inner).transpose(1, 2)  # (H, b, N/2)
    kernel = torch.bmm(weighted, outer).real  # (H, b, L/b): [h, i, j] is position i + b j
    return 2.0 * kernel.transpose(1, 2).reshape(kernel.shape[0], blocks * block)[:, :length]


def fft_causal_conv(u: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Causal convolution y[b, h, t] = sum_{s<=t} k[h, t-s] u[b, h, s] via rFFT.

    u (B, H, L), k (H, Lk) real with Lk >= L (extra taps are ignored). Padding to 2L
    turns the FFT's circular convolution into a linear one, so nothing wraps around.
    """
    assert u.dim() == 3, f"u must be (B, H, L), got {tuple(u.shape)}"
    length = u.shape[-1]
    assert k.dim() == 2 and k.shape[0] == u.shape[1], "k must be (H, L) with u's H"
    assert k.shape[-1] >= length, "kernel shorter than the sequence"
    n = 2 * length
    k_f = torch.fft.rfft(k[..., :length].to(u.dtype), n=n)  # (H, L+1)
    u_f = torch.fft.rfft(u, n=n)  # (B, H, L+1)
    return torch.fft.irfft(u_f * k_f, n=n)[..., :length]  # (B, H, L)


def diag_ssm_init_state(
    batch_size: int, channels: int, half_state: int, device=None, dtype=torch.float32
) -> torch.Tensor:
    """Zero complex state (B, H, N/2) for ``diag_ssm_step``."""
    complex_dtype = torch.complex128 if dtype == torch.float64 else torch.complex64
    return torch.zeros(batch_size, channels, half_state, device=device, dtype=complex_dtype)


def diag_ssm_step(
    u_t: torch.Tensor, state: torch.Tensor, dA: torch.Tensor, dB_C: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the discretised SSM: u_t (B, H) real, state (B, H, N/2) complex.

    Returns (y_t (B, H) real, new state). Stepping t = 0..L-1 from a zero state equals
    ``fft_causal_conv(u, zoh_kernel(...))``.
    """
    state = dA * state + dB_C * u_t.unsqueeze(-1)  # (B, H, N/2)
    y_t = 2.0 * state.sum(-1).real  # (B, H)
    return y_t.to(u_t.dtype), state
