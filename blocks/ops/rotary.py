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


class RotaryTable:
    """cos/sin of positions 0..n−1 kept between forwards, per (device, dtype).

    A plain attribute of the module that applies RoPE (not a buffer, so never in the
    state dict): a forward of length L reuses the first L rows of the table and
    rebuilds it only for a longer L, another device or another dtype. The rows are
    ``rotary_cos_sin``'s, so the rotation is the uncached one.
    """

    def __init__(self, head_dim: int, base: float = ROPE_BASE):
        self.head_dim, self.base = head_dim, base
        self.tables: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}

    def cos_sin(self, length: int, device, dtype, start: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """cos, sin (length, head_dim) for positions start..start+length−1."""
        key, end = (torch.device(device), dtype), start + length
        table = self.tables.get(key)
        if table is None or table[0].shape[0] < end:
            # Grown to at least twice its size, so decoding token by token rebuilds it log(t) times;
            # each row is computed on its own, so a row does not depend on the table's size.
            size = max(end, 2 * table[0].shape[0]) if table is not None else end
            table = rotary_cos_sin(torch.arange(size, device=device), self.head_dim, self.base, dtype)
            self.tables[key] = table
        return table[0][start:end], table[1][start:end]

    def rotate(self, x: torch.Tensor, start: int = 0) -> torch.Tensor:
        """x (..., L, head_dim) rotated as positions start..start+L−1."""
        cos, sin = self.cos_sin(x.shape[-2], x.device, x.dtype, start)
        return apply_rotary(x, cos, sin)
