"""Rotary position embedding (RoPE, Su et al. 2021) for attention queries and keys.

Rotating q and k by position-dependent angles makes q_t·k_s depend on t − s only,
which is why the attention and memory blocks use it as their relative position code.
Convention: GPT-NeoX "rotate half" (the first and second halves of a head form the pairs).
"""
from __future__ import annotations

import torch

ROPE_BASE = 10000.0


def rotary_cos_sin(positions: torch.Tensor, head_dim: int, base: float = ROPE_BASE, dtype=None):
    """cos, sin of shape (len(positions), head_dim) for integer ``positions`` (any device)."""
    assert head_dim % 2 == 0, f"rotary embedding needs an even head_dim, got {head_dim}"
    device = positions.device
    inv_freq = base ** (-torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim)  # (hd/2,)
    angles = positions.to(torch.float32).unsqueeze(-1) * inv_freq  # (P, hd/2)
    angles = torch.cat([angles, angles], dim=-1)  # (P, hd)
    dtype = dtype or torch.get_default_dtype()
    return angles.cos().to(dtype), angles.sin().to(dtype)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate x (..., P, head_dim) by the angles in cos/sin (P, head_dim)."""
    half = x.shape[-1] // 2
    rotated_half = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated_half * sin
