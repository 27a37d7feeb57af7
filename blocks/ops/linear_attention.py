"""Causal linear attention (Katharopoulos et al. 2020) as plain tensor functions.

    o_t = sum_{s<=t} (scale·q_t · k_s) v_s                      (normalize=False)
    o_t = [sum_{s<=t} (q_t·k_s) v_s] / [q_t · sum_{s<=t} k_s]   (normalize=True)

Layout (as in flash-linear-attention): q, k (batch, length, heads, key_dim),
v (batch, length, heads, value_dim); the output has v's shape.

Three forms that give the same result (tests compare them to 1e-5 in float32):
- ``linear_attention`` / ``linear_attention_chunked``: the parallel form. Inside a chunk of
  C positions it uses the masked C×C product; across chunks it carries the running state
  S = sum k_s v_sᵀ (key_dim × value_dim), so memory is O(L·C + (L/C)·key_dim·value_dim)
  and no L×L tensor exists for L > C.
- ``linear_attention_step``: one position of the recurrence, for token-by-token decoding.
- ``linear_attention_recurrent``: the step in a loop (a reference, O(L) sequential).
``linear_attention_naive`` is the quadratic masked reference the tests check against.

``normalize`` is meant for non-negative feature maps (elu+1, FAVOR+), where q·sum(k) > 0;
``eps`` is added to that denominator so an all-zero prefix gives 0, not NaN.
"""
from __future__ import annotations

import torch

DEFAULT_CHUNK_SIZE = 64
DEFAULT_EPS = 1e-6

# (running key-value state (B, H, Dk, Dv), running key sum (B, H, Dk))
LinearAttentionState = tuple[torch.Tensor, torch.Tensor]


def _check_shapes(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    assert q.dim() == 4, f"q must be (batch, length, heads, key_dim), got {tuple(q.shape)}"
    assert q.shape == k.shape, f"q and k must have the same shape, got {tuple(q.shape)} and {tuple(k.shape)}"
    assert v.dim() == 4 and v.shape[:3] == q.shape[:3], (
        f"v must be (batch, length, heads, value_dim) matching q's first three dims, got {tuple(v.shape)}"
    )


def linear_attention(q, k, v, scale=None, normalize=False, *, eps: float = DEFAULT_EPS):
    """Causal linear attention, parallel form (chunked; see the module docstring)."""
    return linear_attention_chunked(q, k, v, scale=scale, normalize=normalize, chunk_size=DEFAULT_CHUNK_SIZE, eps=eps)


def linear_attention_chunked(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    scale: float | None = None,
    normalize: bool = False,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    eps: float = DEFAULT_EPS,
) -> torch.Tensor:
    """Chunk-parallel causal linear attention; chunk_size need not divide the length."""
    _check_shapes(q, k, v)
    assert chunk_size >= 1, f"chunk_size must be >= 1, got {chunk_size}"
    B, L, H, Dk = q.shape
    Dv = v.shape[-1]
    scale = Dk ** -0.5 if scale is None else scale
    C = min(chunk_size, L)
    N = -(-L // C)  # number of chunks
    pad = N * C - L
    # Zero padding at the end is harmless: zero keys add nothing to the state and the
    # padded query rows are cut off before returning.
    q, k, v = (torch.nn.functional.pad(t, (0, 0, 0, 0, 0, pad)) for t in (q, k, v))
    q = (q * scale).reshape(B, N, C, H, Dk).permute(0, 3, 1, 2, 4)  # (B, H, N, C, Dk)
    k = k.reshape(B, N, C, H, Dk).permute(0, 3, 1, 2, 4)  # (B, H, N, C, Dk)
    v = v.reshape(B, N, C, H, Dv).permute(0, 3, 1, 2, 4)  # (B, H, N, C, Dv)

    causal = torch.ones(C, C, dtype=torch.bool, device=q.device).tril()
    scores = (q @ k.transpose(-1, -2)).masked_fill(~causal, 0.0)  # (B, H, N, C, C)
    intra = scores @ v  # (B, H, N, C, Dv)

    # State entering chunk n = sum of k_sᵀ v_s over all earlier chunks (exclusive cumsum).
    chunk_kv = k.transpose(-1, -2) @ v  # (B, H, N, Dk, Dv)
    state_before = torch.cumsum(chunk_kv, dim=2) - chunk_kv  # (B, H, N, Dk, Dv)
    out = intra + q @ state_before  # (B, H, N, C, Dv)

    if normalize:
        chunk_ksum = k.sum(dim=3)  # (B, H, N, Dk)
        ksum_before = torch.cumsum(chunk_ksum, dim=2) - chunk_ksum  # (B, H, N, Dk)
        denom = scores.sum(-1) + (q * ksum_before.unsqueeze(3)).sum(-1)  # (B, H, N, C)
        out = out / (denom.unsqueeze(-1) + eps)

    out = out.permute(0, 2, 3, 1, 4).reshape(B, N * C, H, Dv)  # (B, L_padded, H, Dv)
    return out[:, :L]


def linear_attention_naive(q, k, v, scale=None, normalize=False, *, eps: float = DEFAULT_EPS):
    """Quadratic reference: the full L×L masked product. For tests; O(L²) memory."""
    _check_shapes(q, k, v)
    L, Dk = q.shape[1], q.shape[-1]
    scale = Dk ** -0.5 if scale is None else scale
    scores = torch.einsum("blhd,bshd->bhls", q * scale, k)  # (B, H, L, L)
    causal = torch.ones(L, L, dtype=torch.bool, device=q.device).tril()
    scores = scores.masked_fill(~causal, 0.0)
    out = torch.einsum("bhls,bshe->blhe", scores, v)  # (B, L, H, Dv)
    if normalize:
        out = out / (scores.sum(-1).transpose(1, 2).unsqueeze(-1) + eps)
    return out


def linear_attention_init_state(
    batch_size: int, heads: int, key_dim: int, value_dim: int, device=None, dtype=None
) -> LinearAttentionState:
    """The empty recurrent state: no keys seen yet."""
    kv = torch.zeros(batch_size, heads, key_dim, value_dim, device=device, dtype=dtype)
    ksum = torch.zeros(batch_size, heads, key_dim, device=device, dtype=dtype)
    return kv, ksum


def linear_attention_step(
    q_t: torch.Tensor,
    k_t: torch.Tensor,
    v_t: torch.Tensor,
    state: LinearAttentionState | None,
    scale: float | None = None,
    normalize: bool = False,
    *,
    eps: float = DEFAULT_EPS,
) -> tuple[torch.Tensor, LinearAttentionState]:
    """One position: q_t, k_t (B, H, Dk), v_t (B, H, Dv) -> (o_t (B, H, Dv), new state).

    ``state`` None means the empty state. The state is not modified in place.
    """
    B, H, Dk = q_t.shape
    assert k_t.shape == q_t.shape, f"k_t must match q_t {tuple(q_t.shape)}, got {tuple(k_t.shape)}"
    assert v_t.shape[:2] == (B, H), f"v_t must be (batch, heads, value_dim), got {tuple(v_t.shape)}"
    scale = Dk ** -0.5 if scale is None else scale
    if state is None:
        state = linear_attention_init_state(B, H, Dk, v_t.shape[-1], q_t.device, q_t.dtype)
    kv, ksum = state
    kv = kv + k_t.unsqueeze(-1) * v_t.unsqueeze(-2)  # (B, H, Dk, Dv)
    ksum = ksum + k_t  # (B, H, Dk)
    q_t = q_t * scale
    out = (q_t.unsqueeze(-2) @ kv).squeeze(-2)  # (B, H, Dv)
    if normalize:
        out = out / ((q_t * ksum).sum(-1, keepdim=True) + eps)
    return out, (kv, ksum)


def linear_attention_recurrent(q, k, v, scale=None, normalize=False, *, eps: float = DEFAULT_EPS):
    """Reference loop over ``linear_attention_step``; same layout and result as the parallel form."""
    _check_shapes(q, k, v)
    state = None
    outs = []
    for t in range(q.shape[1]):
        o_t, state = linear_attention_step(q[:, t], k[:, t], v[:, t], state, scale, normalize, eps=eps)
        outs.append(o_t)
    return torch.stack(outs, dim=1)  # (B, L, H, Dv)
