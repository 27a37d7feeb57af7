"""Mamba-2's state-space duality (SSD, Dao & Gu 2024): the selective SSM with a scalar-times-identity
A per head, as a recurrent step, a naive loop and a chunked form.

x (batch, length, heads, head_dim), dt (batch, length, heads) > 0 (after softplus), A (heads,) < 0,
B, C (batch, length, d_state), shared by every head (one group). Per head, with state h (d_state x head_dim):
    h_t = exp(dt_t A) h_{t-1} + dt_t B_t^T x_t,   y_t = C_t h_t          (the D x_t skip is the block's).
Chunked form: with g_t the in-chunk cumulative dt A (non-increasing),
    y_t = exp(g_t) C_t h_0 + sum_{i<=t} exp(g_t - g_i) (C_t . B_i) dt_i x_i,
    h_T = exp(g_T) h_0 + sum_i exp(g_T - g_i) dt_i B_i^T x_i;
every exponent is non-positive.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from blocks.ops.chunking import chunk_layout


def ssd_init_state(batch_size: int, heads: int, d_state: int, head_dim: int, device=None,
                   dtype=torch.float32) -> torch.Tensor:
    """Zero state (batch, heads, d_state, head_dim) for ``ssd_step``."""
    return torch.zeros(batch_size, heads, d_state, head_dim, device=device, dtype=dtype)


def ssd_step(x_t, dt_t, A, B_t, C_t, state):
    """One position: x_t (batch, heads, head_dim), dt_t (batch, heads), B_t, C_t (batch, d_state).
    Returns (y_t (batch, heads, head_dim), state)."""
    decay = torch.exp(dt_t * A)[..., None, None]
    state = decay * state + (dt_t[..., None] * B_t[:, None]).unsqueeze(-1) * x_t.unsqueeze(-2)
    return torch.einsum("bn,bhnp->bhp", C_t, state), state


def ssd_naive(x, dt, A, B, C):
    """The recurrence per step and per head, as written in the module docstring."""
    batch, length, heads, head_dim = x.shape
    y = x.new_zeros(x.shape)
    for b in range(batch):
        for h in range(heads):
            state = x.new_zeros(B.shape[-1], head_dim)
            for t in range(length):
                state = torch.exp(dt[b, t, h] * A[h]) * state + dt[b, t, h] * torch.outer(B[b, t], x[b, t, h])
                y[b, t, h] = C[b, t] @ state
    return y


def ssd_recurrent(x, dt, A, B, C):
    """``ssd_step`` over every position from a zero state."""
    batch, length, heads, head_dim = x.shape
    state = ssd_init_state(batch, heads, B.shape[-1], head_dim, x.device, x.dtype)
    outputs = []
    for t in range(length):
        y_t, state = ssd_step(x[:, t], dt[:, t], A, B[:, t], C[:, t], state)
        outputs.append(y_t)
    return torch.stack(outputs, dim=1)


def ssd_chunked(x, dt, A, B, C, chunk_size: int = 256):
    """Chunked form (module docstring); equals ``ssd_recurrent``. A last partial chunk is
    right-padded with dt = 0, which neither decays nor writes the state."""
    batch, length, heads, head_dim = x.shape
    d_state = B.shape[-1]
    assert dt.shape == x.shape[:3] and A.shape == (heads,), "dt must be (batch, length, heads), A (heads,)"
    assert B.shape == C.shape == (batch, length, d_state), "B and C must be (batch, length, d_state)"
    chunk, n_chunks, pad = chunk_layout(length, chunk_size)
    x, B, C = (F.pad(t, (0, 0) * (t.dim() - 2) + (0, pad)) for t in (x, B, C))
    dt = F.pad(dt, (0, 0, 0, pad))
    x = x.view(batch, n_chunks, chunk, heads, head_dim)
    dt = dt.view(batch, n_chunks, chunk, heads)
    B, C = (t.view(batch, n_chunks, chunk, d_state) for t in (B, C))

    g = (dt * A).cumsum(2)  # (b, c, T, H)
    positions = torch.arange(chunk, device=x.device)
    causal = positions[:, None] >= positions[None, :]
    diff = g[:, :, :, None] - g[:, :, None, :]  # (b, c, t, i, H)
    decay = torch.exp(diff.masked_fill(~causal[:, :, None], float("-inf")))
    scores = torch.einsum("bctn,bcin->bcti", C, B)[..., None] * decay * dt[:, :, None]  # (b, c, t, i, H)
    inner = torch.einsum("bctih,bcihp->bcthp", scores, x)

    last = g[:, :, -1]  # (b, c, H)
    chunk_states = torch.einsum("bcin,bcih,bcihp->bchnp", B, dt * torch.exp(last[:, :, None] - g), x)
    state = x.new_zeros(batch, heads, d_state, head_dim)
    entering = []
    for own, chunk_decay in zip(chunk_states.unbind(1), torch.exp(last).unbind(1)):
        entering.append(state)
        state = chunk_decay[..., None, None] * state + own
    cross = torch.einsum("bctn,bcth,bchnp->bcthp", C, torch.exp(g), torch.stack(entering, dim=1))
    return (inner + cross).reshape(batch, n_chunks * chunk, heads, head_dim)[:, :length]
