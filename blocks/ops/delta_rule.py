"""The delta rule (Schlag et al. 2021; Yang et al. 2024) and its gated form (Gated DeltaNet, Yang et
al. 2024): recurrent step, naive loop and chunked form via the WY/UT representation.

q, k (batch, length, heads, key_dim; the block L2-normalises them), v (batch, length, heads,
value_dim), beta (batch, length, heads) in (0, 1) and, for the gated rule, log_alpha (batch, length,
heads) <= 0. With the memory S stored as key_dim x value_dim (the transpose of the papers' S):
    S_t = alpha_t (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T,   o_t = S_t^T q_t
(the papers' S_t = alpha_t S_{t-1} (I - beta_t k_t k_t^T) + beta_t v_t k_t^T, o_t = S_t q_t).

Chunked form, one chunk with entering state S_0, in-chunk cumulative log gate g_t (0 when ungated)
and the pseudo-values u~_t = beta_t (v_t - (alpha_t S_{t-1})^T k_t):
    (I + A) U~ = V_beta - diag(exp g) K_beta S_0,   A[t, i] = beta_t (k_t . k_i) exp(g_t - g_i), i < t,
so with T = (I + A)^-1 (the UT transform, a unit lower-triangular solve): U = T V_beta, W = T diag(exp g) K_beta,
U~ = U - W S_0, then
    o_t = exp(g_t) q_t S_0 + sum_{i<=t} exp(g_t - g_i) (q_t . k_i) u~_i,
    S_T = exp(g_T) S_0 + sum_i exp(g_T - g_i) k_i u~_i^T.
Every exponent is non-positive. U and W are found for all chunks at once; only S_0 -> S_T is a loop.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from blocks.ops.chunking import chunk_layout


def _check(q, k, v, beta, log_alpha):
    assert q.dim() == 4 and q.shape == k.shape, "q and k must be (batch, length, heads, key_dim)"
    assert v.dim() == 4 and v.shape[:3] == q.shape[:3], "v must be (batch, length, heads, value_dim)"
    assert beta.shape == q.shape[:3], "beta must be (batch, length, heads)"
    assert log_alpha is None or log_alpha.shape == q.shape[:3], "log_alpha must be (batch, length, heads)"


def delta_rule_init_state(batch_size: int, heads: int, key_dim: int, value_dim: int, device=None,
                          dtype=torch.float32) -> torch.Tensor:
    """Zero memory (batch, heads, key_dim, value_dim) for ``delta_rule_step``."""
    return torch.zeros(batch_size, heads, key_dim, value_dim, device=device, dtype=dtype)


def delta_rule_step(q_t, k_t, v_t, beta_t, state, log_alpha_t=None):
    """One position: q_t, k_t (batch, heads, key_dim), v_t (batch, heads, value_dim), beta_t and
    log_alpha_t (batch, heads). Returns (o_t (batch, heads, value_dim), state)."""
    if log_alpha_t is not None:
        state = torch.exp(log_alpha_t)[..., None, None] * state
    recalled = torch.einsum("bhd,bhde->bhe", k_t, state)  # what the memory holds under k_t
    state = state + k_t.unsqueeze(-1) * (beta_t.unsqueeze(-1) * (v_t - recalled)).unsqueeze(-2)
    return torch.einsum("bhd,bhde->bhe", q_t, state), state


def delta_rule_naive(q, k, v, beta, log_alpha=None):
    """The papers' recurrence per step and per head, in their orientation (S: value_dim x key_dim)."""
    _check(q, k, v, beta, log_alpha)
    batch, length, heads, key_dim = q.shape
    out = v.new_zeros(batch, length, heads, v.shape[-1])
    eye = torch.eye(key_dim, dtype=q.dtype, device=q.device)
    for b in range(batch):
        for h in range(heads):
            S = q.new_zeros(v.shape[-1], key_dim)
            for t in range(length):
                kt, bt = k[b, t, h], beta[b, t, h]
                alpha = 1.0 if log_alpha is None else torch.exp(log_alpha[b, t, h])
                S = alpha * S @ (eye - bt * torch.outer(kt, kt)) + bt * torch.outer(v[b, t, h], kt)
                out[b, t, h] = S @ q[b, t, h]
    return out


def delta_rule_recurrent(q, k, v, beta, log_alpha=None):
    """``delta_rule_step`` over every position from a zero memory."""
    _check(q, k, v, beta, log_alpha)
    batch, length, heads, key_dim = q.shape
    state = delta_rule_init_state(batch, heads, key_dim, v.shape[-1], q.device, q.dtype)
    outputs = []
    for t in range(length):
        o_t, state = delta_rule_step(q[:, t], k[:, t], v[:, t], beta[:, t], state,
                                     None if log_alpha is None else log_alpha[:, t])
        outputs.append(o_t)
    return torch.stack(outputs, dim=1)


def delta_rule_chunked(q, k, v, beta, log_alpha=None, chunk_size: int = 64):
    """Chunked form via the UT transform (module docstring); equals ``delta_rule_recurrent``.
    A last partial chunk is right-padded with k = 0, beta = 0 and log_alpha = 0, which change nothing."""
    _check(q, k, v, beta, log_alpha)
    batch, length, heads, key_dim = q.shape
    value_dim = v.shape[-1]
    chunk, n_chunks, pad = chunk_layout(length, chunk_size)
    if log_alpha is None:
        log_alpha = beta.new_zeros(beta.shape)

    def chunks(t):  # (B, L, H, ...) -> (B, H, C, T, ...)
        t = F.pad(t, (0, 0) * (t.dim() - 2) + (0, pad))
        return t.view(batch, n_chunks, chunk, heads, *t.shape[3:]).transpose(1, 3).transpose(2, 3)

    q, k, v, beta, log_alpha = (chunks(t) for t in (q, k, v, beta, log_alpha))
    g = log_alpha.cumsum(-1)  # (B, H, C, T)
    positions = torch.arange(chunk, device=q.device)
    strict = positions[:, None] > positions[None, :]
    inclusive = positions[:, None] >= positions[None, :]
    diff = g[..., :, None] - g[..., None, :]  # (B, H, C, T, T): g_t - g_i
    decay_strict = torch.exp(diff.masked_fill(~strict, float("-inf")))
    decay_inclusive = torch.exp(diff.masked_fill(~inclusive, float("-inf")))

    k_beta, v_beta = k * beta.unsqueeze(-1), v * beta.unsqueeze(-1)
    A = (k_beta @ k.transpose(-1, -2)) * decay_strict
    eye = torch.eye(chunk, dtype=q.dtype, device=q.device)
    solved = torch.linalg.solve_triangular(
        eye + A, torch.cat((v_beta, k_beta * torch.exp(g).unsqueeze(-1)), dim=-1), upper=False, unitriangular=True)
    U, W = solved[..., :value_dim], solved[..., value_dim:]
    scores = (q @ k.transpose(-1, -2)) * decay_inclusive  # (B, H, C, T, T)
    q_decayed = q * torch.exp(g).unsqueeze(-1)
    k_to_end = k * torch.exp(g[..., -1:] - g).unsqueeze(-1)
    chunk_decay = torch.exp(g[..., -1])  # (B, H, C)

    state = q.new_zeros(batch, heads, key_dim, value_dim)
    outputs = []
    for c in range(n_chunks):
        pseudo = U[:, :, c] - W[:, :, c] @ state  # (B, H, T, E)
        outputs.append(q_decayed[:, :, c] @ state + scores[:, :, c] @ pseudo)
        state = chunk_decay[:, :, c, None, None] * state + k_to_end[:, :, c].transpose(-1, -2) @ pseudo
    out = torch.stack(outputs, dim=2)  # (B, H, C, T, E)
    return out.permute(0, 2, 3, 1, 4).reshape(batch, n_chunks * chunk, heads, value_dim)[:, :length]
