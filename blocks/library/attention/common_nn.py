"""Torch pieces the attention modules share: heads, RoPE, q/k/v projections, blockwise masked
attention and the base class of the linear-attention blocks."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocks.ops.linear_attention import linear_attention, linear_attention_step
from blocks.ops.rotary import RotaryTable, apply_rotary, rotary_cos_sin


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, L, H·hd) -> (B, H, L, hd)."""
    B, L, _ = x.shape
    return x.view(B, L, heads, -1).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, L, hd) -> (B, L, H·hd)."""
    B, H, L, hd = x.shape
    return x.transpose(1, 2).reshape(B, L, H * hd)


def rope(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Rotary embedding of x (B, H, P, hd) at integer positions (P,)."""
    cos, sin = rotary_cos_sin(positions, x.shape[-1], dtype=x.dtype)
    return apply_rotary(x, cos, sin)


class MultiHeadProjections(nn.Module):
    """q (H heads), k and v (kv_heads heads) and the output projection, all d_model wide inputs.

    With ``rotary``, ``qkv`` also applies RoPE to q and k, from cos/sin kept between calls (a
    ``RotaryTable``: a plain attribute, never in the state dict).
    """

    def __init__(self, d_model: int, heads: int, kv_heads: int | None = None, bias: bool = False,
                 rotary: bool = False):
        super().__init__()
        kv_heads = kv_heads or heads
        assert d_model % heads == 0, f"heads ({heads}) must divide d_model ({d_model})"
        assert heads % kv_heads == 0, f"kv_heads ({kv_heads}) must divide heads ({heads})"
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, d_model // heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.kv_proj = nn.Linear(d_model, 2 * kv_heads * self.head_dim, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)
        assert not rotary or self.head_dim % 2 == 0, "rope needs an even head size"
        self.rotary = RotaryTable(self.head_dim) if rotary else None

    def qkv(self, x: torch.Tensor, start: int = 0):
        """x (B, L, D) at positions start.. -> q (B, H, L, hd), k and v (B, Hkv, L, hd)."""
        k, v = self.kv_proj(x).chunk(2, dim=-1)
        q, k, v = split_heads(self.q_proj(x), self.heads), split_heads(k, self.kv_heads), split_heads(v, self.kv_heads)
        if self.rotary is not None:
            q, k = self.rotary.rotate(q, start), self.rotary.rotate(k, start)
        return q, k, v

    def expand_kv(self, t: torch.Tensor) -> torch.Tensor:
        """Grouped-query attention: repeat each kv head for the query heads that share it."""
        groups = self.heads // self.kv_heads
        return t if groups == 1 else t.repeat_interleave(groups, dim=1)

    def out(self, y: torch.Tensor) -> torch.Tensor:
        """y (B, H, L, hd) -> (B, L, D)."""
        return self.out_proj(merge_heads(y))


def blocked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Attention inside blocks: q (B, H, N, b, hd), k and v (B, H, N, K, hd), mask (N, b, K) -> (B, H, N, b, hd).

    Blocks are folded into SDPA's head dimension so it gets the 4-D inputs its fused
    (memory-efficient) kernels accept; the math fallback would keep the same (N, b, K) scores.
    """
    B, H, N, b, hd = q.shape
    K = k.shape[3]
    y = F.scaled_dot_product_attention(
        q.reshape(B, H * N, b, hd),
        k.reshape(B, H * N, K, hd),
        v.reshape(B, H * N, K, v.shape[-1]),
        attn_mask=mask.unsqueeze(0).expand(H, N, b, K).reshape(H * N, b, K),
    )
    return y.view(B, H, N, b, -1)


# ----------------------------------------------------------------------------- linear attentions

class LinearAttentionBase(nn.Module):
    """q, k, v, o projections around causal normalised linear attention with feature map ``features``."""

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        assert d_model % heads == 0, f"heads ({heads}) must divide d_model ({d_model})"
        self.heads, self.head_dim = heads, d_model // heads
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        self.v_proj = nn.Linear(d_model, d_model, bias=False)
        self.out_proj = nn.Linear(d_model, d_model, bias=False)

    def features(self, x: torch.Tensor, is_query: bool) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self._qkv(x)  # (B, L, H, m), (B, L, H, m), (B, L, H, hd)
        # Feature maps and prefix sums run in float32 even under bf16 autocast: exp features
        # and sums over the whole prefix lose too much in 8 bits of mantissa.
        with torch.autocast(device_type=x.device.type, enabled=False):
            y = linear_attention(q.float(), k.float(), v.float(), scale=1.0, normalize=True)  # (B, L, H, hd)
        return self.out_proj(y.to(x.dtype).flatten(-2))

    def _qkv(self, x: torch.Tensor):
        """x (..., D) -> phi(q), phi(k) (..., H, m), v (..., H, hd); the features in float32."""
        shape = x.shape[:-1] + (self.heads, self.head_dim)
        q, k, v = (p(x).view(shape) for p in (self.q_proj, self.k_proj, self.v_proj))
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.features(q.float(), True), self.features(k.float(), False), v

    def init_state(self, batch_size: int, device=None, dtype=None):
        """None: the op's step starts from the empty (all-zero) float32 state."""
        return None

    def step(self, x_t: torch.Tensor, state):
        q, k, v = self._qkv(x_t)  # (B, H, m), (B, H, m), (B, H, hd)
        with torch.autocast(device_type=x_t.device.type, enabled=False):
            y, state = linear_attention_step(q, k, v.float(), state, scale=1.0, normalize=True)
        return self.out_proj(y.to(x_t.dtype).flatten(-2)), state
