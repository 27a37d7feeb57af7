"""Sliding-window attention (``sliding_window_attention``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.attention.sliding_window_attention``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.attention.common import ROTARY_POSITIONS
from blocks.library.attention.common_nn import MultiHeadProjections, blocked_attention
from blocks.ops.attention_masks import sliding_window_block_mask, sliding_window_dense_mask


# ----------------------------------------------------------------------------- sliding window

class SlidingWindowAttention(nn.Module):
    """Longformer's causal sliding window plus global tokens, computed block by block.

    Token t sees the last ``window`` positions (itself included) and the first
    ``global_tokens`` positions. The sequence is cut into blocks of the window's size;
    each query block attends to [global keys, previous block, own block] with the band
    mask, so memory is O(L·(window + global_tokens)). The step form keeps a KV cache of
    just the global positions and the last window − 1 positions.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 heads: int = 4, window: int = 8, global_tokens: int = 0, position: str = "rope"):
        super().__init__()
        assert 1 <= window <= max_seq_len, f"window must be in [1, max_seq_len={max_seq_len}], got {window}"
        assert 0 <= global_tokens <= max_seq_len, f"global_tokens must be in [0, {max_seq_len}], got {global_tokens}"
        assert position in ROTARY_POSITIONS, f"position must be one of {ROTARY_POSITIONS}, got {position!r}"
        self.window, self.global_tokens, self.position = window, global_tokens, position
        self.proj = MultiHeadProjections(d_model, heads, rotary=position == "rope")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        q, k, v = self.proj.qkv(x)  # (B, H, L, hd) each
        block = min(self.window, L)  # one block when the whole sequence fits in the window
        N = -(-L // block)
        pad = N * block - L
        g = min(self.global_tokens, L)
        mask = sliding_window_block_mask(N, block, self.window, g, device=x.device)  # (N, b, g + 2b)

        def blocks(t):  # (B, H, L, hd) -> (B, H, N, b, hd)
            return F.pad(t, (0, 0, 0, pad)).view(B, self.proj.heads, N, block, -1)

        def with_neighbours(t):  # keys/values: [global, previous block, own block] per query block
            tb = blocks(t)
            previous = F.pad(tb, (0, 0, 0, 0, 1, 0))[:, :, :-1]  # block n-1 (zeros for n = 0, masked)
            glob = t[:, :, :g].unsqueeze(2).expand(-1, -1, N, -1, -1)  # (B, H, N, g, hd)
            return torch.cat([glob, previous, tb], dim=3)  # (B, H, N, g + 2b, hd)

        y = blocked_attention(blocks(q), with_neighbours(k), with_neighbours(v), mask)  # (B, H, N, b, hd)
        y = y.reshape(B, self.proj.heads, N * block, -1)[:, :, :L]  # (B, H, L, hd)
        return self.proj.out(y)

    def init_state(self, batch_size: int, device=None, dtype=None) -> dict:
        """KV caches of the global positions (< global_tokens) and of the last window − 1 positions."""
        empty = torch.zeros(batch_size, self.proj.heads, 0, self.proj.head_dim, device=device, dtype=dtype)
        return {"k_global": empty, "v_global": empty, "k_recent": empty, "v_recent": empty, "pos": 0}

    def step(self, x_t: torch.Tensor, state: dict):
        """x_t (B, D) -> (y_t, state); the cache never holds more than window − 1 + global_tokens keys."""
        t = state["pos"]
        q, k, v = self.proj.qkv(x_t.unsqueeze(1), start=t)  # (B, H, 1, hd)
        k_recent = torch.cat([state["k_recent"], k], dim=2)  # positions max(0, t−w+1) .. t
        v_recent = torch.cat([state["v_recent"], v], dim=2)
        older_globals = max(0, min(self.global_tokens, t - self.window + 1))  # globals outside the band
        keys = torch.cat([state["k_global"][:, :, :older_globals], k_recent], dim=2)
        values = torch.cat([state["v_global"][:, :, :older_globals], v_recent], dim=2)
        y = self.proj.out(F.scaled_dot_product_attention(q, keys, values)).squeeze(1)
        keep = max(0, k_recent.shape[2] - (self.window - 1))  # drop what leaves the window at t + 1
        new_state = {
            "k_global": state["k_global"], "v_global": state["v_global"],
            "k_recent": k_recent[:, :, keep:], "v_recent": v_recent[:, :, keep:], "pos": t + 1,
        }
        if t < self.global_tokens:
            new_state["k_global"] = torch.cat([state["k_global"], k], dim=2)
            new_state["v_global"] = torch.cat([state["v_global"], v], dim=2)
        return y, new_state

    def dense_reference(self, x: torch.Tensor) -> torch.Tensor:
        """The same attention with a full (L, L) mask. For tests: O(L²) memory."""
        q, k, v = self.proj.qkv(x)  # (B, H, L, hd) each
        mask = sliding_window_dense_mask(x.shape[1], self.window, self.global_tokens, device=x.device)
        return self.proj.out(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
