"""RetNet retention (Sun et al. 2023) without its group norm: parallel, recurrent, chunkwise.

q, k (batch, length, heads, key_dim), v (batch, length, heads, value_dim). Head h decays
with gamma_h = 1 - 2^(-5-h) and scores are scaled by key_dim^-0.5:
    o_n = sum_{m<=n} gamma^(n-m) (q_n . k_m) scale v_m.
The three forms compute the same function: the parallel form builds the (L, L) decay mask,
the recurrent form keeps a (key_dim, value_dim) state per head,
    S_n = gamma S_{n-1} + scale k_n^T v_n,  o_n = q_n S_n,
and the chunkwise form uses the parallel form inside chunks and the state between them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def retention_decays(heads: int, device=None, dtype=torch.float32) -> torch.Tensor:
    """gamma_h = 1 - 2^(-5-h) for h = 0..heads-1, shape (heads,)."""
    exponents = -5.0 - torch.arange(heads, device=device, dtype=torch.float64)
    return (1.0 - torch.pow(2.0, exponents)).to(dtype)


def _check(q, k, v):
    assert q.dim() == 4 and q.shape == k.shape, "q and k must be (batch, length, heads, key_dim)"
    assert v.dim() == 4 and v.shape[:3] == q.shape[:3], "v must be (batch, length, heads, value_dim)"


def _decay_mask(length: int, log_gamma: torch.Tensor) -> torch.Tensor:
    """D[h, n, m] = gamma_h^(n-m) for m <= n else 0, shape (heads, L, L)."""
    positions = torch.arange(length, device=log_gamma.device)
    distance = (positions[:, None] - positions[None, :]).to(log_gamma.dtype)  # (L, L)
    causal = distance >= 0
    # exp of a masked non-positive exponent: never exp of a large positive number
    exponent = log_gamma[:, None, None] * distance.clamp_min(0)  # (H, L, L)
    return torch.exp(exponent) * causal


def retention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Parallel form: o = (scale Q K^T * D) V per head. Returns (batch, length, heads, value_dim)."""
    _check(q, k, v)
    heads, key_dim = q.shape[2], q.shape[3]
    log_gamma = torch.log(retention_decays(heads, q.device, q.dtype))
    mask = _decay_mask(q.shape[1], log_gamma)  # (H, L, L)
    scores = torch.einsum("bnhd,bmhd->bhnm", q, k) * key_dim**-0.5 * mask  # (B, H, L, L)
    return torch.einsum("bhnm,bmhe->bnhe", scores, v)


def retention_init_state(
    batch_size: int, heads: int, key_dim: int, value_dim: int, device=None, dtype=torch.float32
) -> torch.Tensor:
    """Zero state (batch, heads, key_dim, value_dim) for ``retention_step``."""
    return torch.zeros(batch_size, heads, key_dim, value_dim, device=device, dtype=dtype)


def retention_step(
    q_t: torch.Tensor, k_t: torch.Tensor, v_t: torch.Tensor, state: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """One position: q_t, k_t (batch, heads, key_dim), v_t (batch, heads, value_dim),
    state (batch, heads, key_dim, value_dim). Returns (o_t (batch, heads, value_dim), state)."""
    heads, key_dim = q_t.shape[1], q_t.shape[2]
    gamma = retention_decays(heads, q_t.device, q_t.dtype)[None, :, None, None]
    state = gamma * state + (k_t * key_dim**-0.5).unsqueeze(-1) * v_t.unsqueeze(-2)
    return torch.einsum("bhd,bhde->bhe", q_t, state), state


def retention_recurrent(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Recurrent form: ``retention_step`` over every position from a zero state."""
    _check(q, k, v)
    batch, length, heads, key_dim = q.shape
    state = retention_init_state(batch, heads, key_dim, v.shape[-1], q.device, q.dtype)
    outputs = []
    for t in range(length):
        o_t, state = retention_step(q[:, t], k[:, t], v[:, t], state)
        outputs.append(o_t)
    return torch.stack(outputs, dim=1)


def retention_chunkwise(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, chunk_size: int) -> torch.Tensor:
    """Chunkwise form: parallel inside chunks of ``chunk_size``, recurrent state across them.

    For chunk i with in-chunk positions j = 0..T-1 and state R (carried from chunk i-1):
        o_j = inner_j + gamma^(j+1) q_j R,     R <- gamma^T R + sum_j gamma^(T-1-j) scale k_j^T v_j.
    A last partial chunk is right-padded with zeros, which add nothing to its outputs.
    """
    _check(q, k, v)
    assert chunk_size >= 1, "chunk_size must be positive"
    batch, length, heads, key_dim = q.shape
    value_dim = v.shape[-1]
    chunk = min(chunk_size, length)
    n_chunks = -(-length // chunk)
    pad = n_chunks * chunk - length
    q, k, v = (F.pad(t, (0, 0, 0, 0, 0, pad)) for t in (q, k, v))
    q = q.view(batch, n_chunks, chunk, heads, key_dim)
    k = k.view(batch, n_chunks, chunk, heads, key_dim) * key_dim**-0.5
    v = v.view(batch, n_chunks, chunk, heads, value_dim)

    log_gamma = torch.log(retention_decays(heads, q.device, q.dtype))  # (H,)
    mask = _decay_mask(chunk, log_gamma)  # (H, T, T)
    offsets = torch.arange(chunk, device=q.device, dtype=q.dtype)
    query_decay = torch.exp(log_gamma[:, None] * (offsets + 1))  # (H, T): gamma^(j+1)
    key_decay = torch.exp(log_gamma[:, None] * (chunk - 1 - offsets))  # (H, T): gamma^(T-1-j)
    chunk_decay = torch.exp(log_gamma * chunk)[None, :, None, None]  # (1, H, 1, 1): gamma^T

    # Inside every chunk at once: (B, C, H, T, T) scores, then values.
    scores = torch.einsum("bcnhd,bcmhd->bchnm", q, k) * mask
    inner = torch.einsum("bchnm,bcmhe->bcnhe", scores, v)  # (B, C, T, H, E)
    # Each chunk's own contribution to the state it hands on: (B, C, H, Dk, E)
    chunk_states = torch.einsum("bcmhd,hm,bcmhe->bchde", k, key_decay, v)

    # The state entering each chunk, then every chunk's queries read theirs in one product.
    # (Unbound once: indexing chunk c inside the loop would make autograd write a full-size
    # gradient per chunk, quadratic in the length.)
    state = q.new_zeros(batch, heads, key_dim, value_dim)
    entering = []
    for own in chunk_states.unbind(1):
        entering.append(state)
        state = chunk_decay * state + own
    cross = torch.einsum("bcnhd,hn,bchde->bcnhe", q, query_decay, torch.stack(entering, dim=1))
    out = inner + cross  # (B, C, T, H, E)
    return out.reshape(batch, n_chunks * chunk, heads, value_dim)[:, :length]
