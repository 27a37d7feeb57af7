"""The Mamba S6 selective scan: a fast chunked form, the per-step reference, and one step.

Layout as in the official Mamba code (state-spaces/mamba, selective_scan_interface.py):
u, delta, z (batch, channels, length); A (channels, state); B, C (batch, state, length);
D (channels,). Per channel d and state n:
    h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t,    y_t = C_t . h_t + D u_t,
then y *= silu(z) when z is given.

The chunked form walks the sequence a chunk at a time, carrying the state h_in between
chunks. Inside a chunk the state is a cumulative sum in log space,
h_t = e^{c_t} (h_in + sum_{s<=t} e^{-c_s} x_s) with c_t = A * cumsum(delta) (<= 0). The factor
e^{-c_s} grows within a chunk, so chunks are shortened (from ``chunk_size``) until no chunk can
decay by more than ``_MAX_LOG_DECAY``; when even ``_MIN_LOG_CHUNK`` positions could, the chunk
is stepped position by position instead, which only ever multiplies decays <= 1.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# The fast path divides by e^{c} >= e^{-30}; its backward divides by it twice, and e^{60} ~ 1e26
# stays far below float32's 3e38 even times large inputs, so nothing overflows.
_MAX_LOG_DECAY = 30.0
# Shorter log-space chunks would mean more sequential carries than the position loop costs.
_MIN_LOG_CHUNK = 4


def _prepare_delta(delta: torch.Tensor, delta_bias, delta_softplus: bool) -> torch.Tensor:
    if delta_bias is not None:
        delta = delta + delta_bias.unsqueeze(-1)
    if delta_softplus:
        delta = F.softplus(delta)
    return delta


def _finish(y, u, D, z):
    """Add the skip D u and apply the silu(z) gate, as the official kernel does."""
    if D is not None:
        y = y + u * D.unsqueeze(-1)
    if z is not None:
        y = y * F.silu(z)
    return y


def _check_shapes(u, delta, A, B, C):
    assert u.dim() == 3 and delta.shape == u.shape, "u and delta must be (batch, channels, length)"
    batch, channels, length = u.shape
    assert A.shape[0] == channels and A.dim() == 2, "A must be (channels, state)"
    state = A.shape[1]
    expected = (batch, state, length)
    assert B.shape == expected and C.shape == expected, f"B and C must be {expected}"


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    chunk_size: int = 32,
) -> torch.Tensor:
    """Selective scan, chunked form. Returns y (batch, channels, length)."""
    _check_shapes(u, delta, A, B, C)
    assert chunk_size >= 1, "chunk_size must be positive"
    delta = _prepare_delta(delta, delta_bias, delta_softplus)
    batch, channels, length = u.shape
    chunk = min(chunk_size, length)
    # The steepest single-step decay bounds every chunk's decay by chunk * steepest.
    steepest = 0.0
    if u.numel() and A.numel():
        steepest = float(delta.detach().abs().amax() * A.detach().abs().amax())
    if steepest == 0.0:
        log_space_chunk = chunk
    elif math.isfinite(steepest):
        log_space_chunk = int(_MAX_LOG_DECAY / steepest)
    else:  # inf or NaN (a diverged model): step positions so the values propagate as they would
        log_space_chunk = 0
    log_space = log_space_chunk >= min(_MIN_LOG_CHUNK, chunk)
    if log_space:
        chunk = min(chunk, log_space_chunk)

    B_t, C_t = B.transpose(1, 2), C.transpose(1, 2)  # (b, L, n)
    h = u.new_zeros(batch, channels, A.shape[1])  # state carried into the chunk
    outputs = []
    # One chunk at a time keeps every intermediate (b, d, T, n) small enough to stay in cache.
    for start in range(0, length, chunk):
        stop = min(start + chunk, length)
        delta_c = delta[:, :, start:stop]  # (b, d, T)
        inputs = (delta_c * u[:, :, start:stop]).unsqueeze(-1) * B_t[:, None, start:stop]  # (b, d, T, n)
        if log_space:
            decay = (torch.cumsum(delta_c, dim=-1).unsqueeze(-1) * A[:, None, :]).exp_()  # e^{c_t}
            # h_t = e^{c_t} (h_in + sum_{s<=t} e^{-c_s} x_s), e^{-c_s} <= e^{30}
            states = decay * (torch.cumsum(inputs / decay, dim=2) + h.unsqueeze(2))  # (b, d, T, n)
        else:
            states = _states_by_positions(delta_c, A, inputs, h)
        outputs.append((states * C_t[:, None, start:stop]).sum(-1))  # (b, d, T)
        h = states[:, :, -1]
    y = torch.cat(outputs, dim=-1) if outputs else u.new_zeros(u.shape)
    return _finish(y, u, D, z)


def _states_by_positions(delta_c, A, inputs, h):
    """States of one chunk stepped position by position (decays <= 1 only): (b, d, T, n)."""
    decay_steps = torch.exp(delta_c.unsqueeze(-1) * A[:, None, :])  # (b, d, T, n)
    states = []
    for t in range(inputs.shape[2]):
        h = decay_steps[:, :, t] * h + inputs[:, :, t]
        states.append(h)
    return torch.stack(states, dim=2)


def selective_scan_ref(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
) -> torch.Tensor:
    """The recurrence itself, one Python step per position (the reference the tests trust)."""
    _check_shapes(u, delta, A, B, C)
    delta = _prepare_delta(delta, delta_bias, delta_softplus)
    batch, channels, length = u.shape
    h = u.new_zeros(batch, channels, A.shape[1])
    ys = []
    for t in range(length):
        decay = torch.exp(delta[:, :, t, None] * A)  # (b, d, n)
        h = decay * h + (delta[:, :, t] * u[:, :, t])[..., None] * B[:, None, :, t]
        ys.append((h * C[:, None, :, t]).sum(-1))  # (b, d)
    y = torch.stack(ys, dim=-1)
    return _finish(y, u, D, z)


def selective_scan_step(
    state: torch.Tensor,
    u_t: torch.Tensor,
    delta_t: torch.Tensor,
    A: torch.Tensor,
    B_t: torch.Tensor,
    C_t: torch.Tensor,
    D: torch.Tensor | None = None,
    z_t: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One position: state (b, d, n), u_t, delta_t, z_t (b, d), B_t, C_t (b, n).

    Returns (y_t (b, d), new state); stepping from a zero state equals ``selective_scan``.
    """
    if delta_bias is not None:
        delta_t = delta_t + delta_bias
    if delta_softplus:
        delta_t = F.softplus(delta_t)
    state = torch.exp(delta_t.unsqueeze(-1) * A) * state + (delta_t * u_t).unsqueeze(-1) * B_t.unsqueeze(1)
    y_t = (state * C_t.unsqueeze(1)).sum(-1)  # (b, d)
    if D is not None:
        y_t = y_t + D * u_t
    if z_t is not None:
        y_t = y_t * F.silu(z_t)
    return y_t, state
