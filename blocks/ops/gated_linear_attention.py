"""Gated linear attention (Yang et al. 2023, GLA): recurrent step, naive loop and chunked form.

q, k (batch, length, heads, key_dim), v (batch, length, heads, value_dim) and the log of the
data-dependent diagonal decay, log_alpha (batch, length, heads, key_dim), every entry <= 0:
    S_t = diag(alpha_t) S_{t-1} + k_t^T v_t,   o_t = q_t S_t      (S: key_dim x value_dim per head).
No scale is applied here: the block scales q.

The chunked form runs the recurrence between chunks and, inside a chunk, works in log space:
with b_j the cumulative log decay up to in-chunk position j,
    o_j = (q_j * exp(b_j)) S_0 + sum_{i<=j} sum_d q_jd k_id exp(b_jd - b_id) v_i,
    S_T = exp(b_T) * S_0 + sum_i (k_i * exp(b_T - b_i))^T v_i,
so every exponential has a non-positive exponent (no overflow whatever the gates), at the cost
of a (chunk, chunk, key_dim) tensor per chunk; small chunks (16, as GLA's secondary chunks) keep it small.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from blocks.ops.chunking import chunk_layout


def _check(q, k, v, log_alpha):
    assert q.dim() == 4 and q.shape == k.shape == log_alpha.shape, \
        "q, k and log_alpha must be (batch, length, heads, key_dim)"
    assert v.dim() == 4 and v.shape[:3] == q.shape[:3], "v must be (batch, length, heads, value_dim)"


def gla_init_state(batch_size: int, heads: int, key_dim: int, value_dim: int, device=None,
                   dtype=torch.float32) -> torch.Tensor:
    """Zero state (batch, heads, key_dim, value_dim) for ``gla_step``."""
    return torch.zeros(batch_size, heads, key_dim, value_dim, device=device, dtype=dtype)


def gla_step(q_t, k_t, v_t, log_alpha_t, state):
    """One position: q_t, k_t, log_alpha_t (batch, heads, key_dim), v_t (batch, heads, value_dim),
    state (batch, heads, key_dim, value_dim). Returns (o_t (batch, heads, value_dim), state)."""
    state = torch.exp(log_alpha_t).unsqueeze(-1) * state + k_t.unsqueeze(-1) * v_t.unsqueeze(-2)
    return torch.einsum("bhd,bhde->bhe", q_t, state), state


def gla_naive(q, k, v, log_alpha):
    """The paper's recurrence written per step and per head, no shared code with the other forms."""
    _check(q, k, v, log_alpha)
    batch, length, heads, key_dim = q.shape
    out = v.new_zeros(batch, length, heads, v.shape[-1])
    for b in range(batch):
        for h in range(heads):
            S = q.new_zeros(key_dim, v.shape[-1])
            for t in range(length):
                S = torch.diag(torch.exp(log_alpha[b, t, h])) @ S + torch.outer(k[b, t, h], v[b, t, h])
                out[b, t, h] = q[b, t, h] @ S
    return out


def gla_recurrent(q, k, v, log_alpha):
    """``gla_step`` over every position from a zero state."""
    _check(q, k, v, log_alpha)
    batch, length, heads, key_dim = q.shape
    state = gla_init_state(batch, heads, key_dim, v.shape[-1], q.device, q.dtype)
    outputs = []
    for t in range(length):
        o_t, state = gla_step(q[:, t], k[:, t], v[:, t], log_alpha[:, t], state)
        outputs.append(o_t)
    return torch.stack(outputs, dim=1)


def gla_chunked(q, k, v, log_alpha, chunk_size: int = 16):
    """Chunked form (see the module docstring); equals ``gla_recurrent``. A last partial chunk is
    right-padded with zeros (k = 0 and log_alpha = 0 add nothing)."""
    _check(q, k, v, log_alpha)
    batch, length, heads, key_dim = q.shape
    value_dim = v.shape[-1]
    chunk, n_chunks, pad = chunk_layout(length, chunk_size)
    q, k, v, log_alpha = (F.pad(t, (0, 0, 0, 0, 0, pad)) for t in (q, k, v, log_alpha))
    q, k, log_alpha = (t.view(batch, n_chunks, chunk, heads, key_dim) for t in (q, k, log_alpha))
    v = v.view(batch, n_chunks, chunk, heads, value_dim)

    b = log_alpha.cumsum(dim=2)  # (B, C, T, H, Dk): log decay from the chunk start through j
    causal = torch.ones(chunk, chunk, dtype=torch.bool, device=q.device).tril()
    # exp(b_j - b_i) for i <= j, zero above the diagonal (masked before exp: no inf * 0).
    pair = (b[:, :, :, None] - b[:, :, None, :]).masked_fill(~causal[:, :, None, None], float("-inf"))
    scores = torch.einsum("bcjhd,bcihd,bcjihd->bchji", q, k, torch.exp(pair))  # (B, C, H, T, T)
    inner = torch.einsum("bchji,bcihe->bcjhe", scores, v)

    last = b[:, :, -1]  # (B, C, H, Dk): the whole chunk's log decay
    chunk_states = torch.einsum("bcihd,bcihe->bchde", k * torch.exp(last[:, :, None] - b), v)
    state = q.new_zeros(batch, heads, key_dim, value_dim)
    entering = []
    for own, decay in zip(chunk_states.unbind(1), torch.exp(last).unbind(1)):
        entering.append(state)
        state = decay.unsqueeze(-1) * state + own
    cross = torch.einsum("bcjhd,bchde->bcjhe", q * torch.exp(b), torch.stack(entering, dim=1))
    out = inner + cross
    return out.reshape(batch, n_chunks * chunk, heads, value_dim)[:, :length]
