"""Strided sparse attention (``strided_attention``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.attention.strided_attention``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.attention.common import ROTARY_POSITIONS
from blocks.library.attention.common_nn import MultiHeadProjections
from blocks.ops.attention_masks import sliding_window_block_mask, strided_column_mask, strided_dense_mask


class StridedAttention(nn.Module):
    """Child et al.'s strided pattern, its local and strided parts merged in one softmax per head.

    Token t sees s <= t with t − s < stride (local) or (t − s) % stride == 0 (strided).
    The sequence is cut into N blocks of ``stride`` positions, n·stride + r. The local
    keys of block n are [block n−1, block n] under the band mask (as in sliding-window
    attention); the strided keys of query (n, r) are (m, r) for m < n, the column of its
    residue r. Scores are (N, stride, 2·stride + N) per head: O(L·(stride + L/stride)),
    O(L·√L) at the default stride √L. The step form keeps a full KV cache.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 heads: int = 4, stride: int = 8, position: str = "rope"):
        super().__init__()
        assert 1 <= stride <= max_seq_len, f"stride must be in [1, max_seq_len={max_seq_len}], got {stride}"
        assert position in ROTARY_POSITIONS, f"position must be one of {ROTARY_POSITIONS}, got {position!r}"
        self.stride, self.position = stride, position
        self.proj = MultiHeadProjections(d_model, heads, rotary=position == "rope")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        H, b = self.proj.heads, self.stride
        q, k, v = self.proj.qkv(x)  # (B, H, L, hd) each
        N = -(-L // b)

        def blocks(t):  # (B, H, L, hd) -> (B, H, N, b, hd), zero padded to N·b
            return F.pad(t, (0, 0, 0, N * b - L)).view(B, H, N, b, -1)

        def local(t):  # (B, H, N, 2b, hd): [previous block, own block] per query block
            tb = blocks(t)
            return torch.cat([F.pad(tb, (0, 0, 0, 0, 1, 0))[:, :, :-1], tb], dim=3)

        qb, kb, vb = blocks(q) * q.shape[-1] ** -0.5, blocks(k), blocks(v)
        local_scores = torch.einsum("bhnid,bhnjd->bhnij", qb, local(k))  # (B, H, N, b, 2b)
        column_scores = torch.einsum("bhnrd,bhmrd->bhnrm", qb, kb)  # (B, H, N, b, N): key m·b + r
        local_mask = sliding_window_block_mask(N, b, b, 0, device=x.device)  # (N, b, 2b)
        column_mask = strided_column_mask(N, device=x.device).unsqueeze(1)  # (N, 1, N)
        scores = torch.cat([local_scores.masked_fill(~local_mask, float("-inf")),
                            column_scores.masked_fill(~column_mask, float("-inf"))], dim=-1)
        weights = scores.softmax(dim=-1)  # every row has at least its own position
        y = (torch.einsum("bhnij,bhnjd->bhnid", weights[..., :2 * b], local(v))
             + torch.einsum("bhnrm,bhmrd->bhnrd", weights[..., 2 * b:], vb))  # (B, H, N, b, hd)
        return self.proj.out(y.reshape(B, H, N * b, -1)[:, :, :L])

    def init_state(self, batch_size: int, device=None, dtype=None) -> dict:
        """A full KV cache: the strided keys reach back to the first positions."""
        empty = torch.zeros(batch_size, self.proj.heads, 0, self.proj.head_dim, device=device, dtype=dtype)
        return {"k": empty, "v": empty.clone(), "pos": 0}

    def step(self, x_t: torch.Tensor, state: dict):
        """x_t (B, D) -> (y_t, state): attend to the cached positions of the pattern's row t."""
        t = state["pos"]
        q, k, v = self.proj.qkv(x_t.unsqueeze(1), start=t)  # (B, H, 1, hd)
        k_all, v_all = torch.cat([state["k"], k], dim=2), torch.cat([state["v"], v], dim=2)
        s = torch.arange(t + 1, device=x_t.device)
        visible = s[(t - s < self.stride) | ((t - s) % self.stride == 0)]
        y = F.scaled_dot_product_attention(q, k_all[:, :, visible], v_all[:, :, visible])
        return self.proj.out(y).squeeze(1), {"k": k_all, "v": v_all, "pos": t + 1}

    def dense_reference(self, x: torch.Tensor) -> torch.Tensor:
        """The same attention with the pattern as a full (L, L) mask. For tests: O(L²) memory."""
        q, k, v = self.proj.qkv(x)  # (B, H, L, hd) each
        mask = strided_dense_mask(x.shape[1], self.stride, device=x.device)
        return self.proj.out(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
