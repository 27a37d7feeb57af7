"""BigBird attention (``bigbird_attention``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.attention.bigbird_attention``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.attention.common import ROTARY_POSITIONS
from blocks.library.attention.common_nn import MultiHeadProjections, blocked_attention
from blocks.ops.attention_masks import bigbird_block_layout, bigbird_block_mask, bigbird_dense_mask


# ----------------------------------------------------------------------------- BigBird

class BigBirdAttention(nn.Module):
    """Causal block-sparse attention: own block, window blocks, global blocks, random past blocks.

    The layout (which key blocks each query block reads) is drawn once for max_seq_len from
    a generator seeded with ``seed`` and kept as buffers; the keys of those blocks are
    gathered, so memory is O(L·K·block_size) with K = 1 + window + global + random blocks.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, heads: int = 4,
                 block_size: int = 8, window_blocks: int = 1, global_blocks: int = 1, random_blocks: int = 1,
                 position: str = "rope"):
        super().__init__()
        assert 1 <= block_size <= max_seq_len, f"block_size must be in [1, {max_seq_len}], got {block_size}"
        assert min(window_blocks, global_blocks, random_blocks) >= 0, "block counts must be >= 0"
        assert position in ROTARY_POSITIONS, f"position must be one of {ROTARY_POSITIONS}, got {position!r}"
        self.block_size, self.position = block_size, position
        self.proj = MultiHeadProjections(d_model, heads, rotary=position == "rope")
        generator = torch.Generator().manual_seed(seed)
        index, valid = bigbird_block_layout(-(-max_seq_len // block_size), window_blocks, global_blocks,
                                            random_blocks, generator)
        self.register_buffer("key_block_index", index)  # (N_max, K)
        self.register_buffer("key_block_valid", valid)  # (N_max, K)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        b = self.block_size
        N = -(-L // b)
        assert N <= self.key_block_index.shape[0], f"sequence length {L} exceeds max_seq_len"
        index, valid = self.key_block_index[:N], self.key_block_valid[:N]  # (N, K)
        K = index.shape[1]
        q, k, v = self.proj.qkv(x)  # (B, H, L, hd) each
        pad = N * b - L

        def blocks(t):  # (B, H, L, hd) -> (B, H, N, b, hd)
            return F.pad(t, (0, 0, 0, pad)).view(B, self.proj.heads, N, b, -1)

        def gathered(t):  # (B, H, N, K·b, hd): the listed key blocks of each query block
            return blocks(t)[:, :, index].reshape(B, self.proj.heads, N, K * b, -1)

        mask = bigbird_block_mask(valid, b)  # (N, b, K·b)
        y = blocked_attention(blocks(q), gathered(k), gathered(v), mask)  # (B, H, N, b, hd)
        y = y.reshape(B, self.proj.heads, N * b, -1)[:, :, :L]  # (B, H, L, hd)
        return self.proj.out(y)

    def init_state(self, batch_size: int, device=None, dtype=None) -> dict:
        """A full KV cache: random blocks may point anywhere in the past."""
        empty = torch.zeros(batch_size, self.proj.heads, 0, self.proj.head_dim, device=device, dtype=dtype)
        return {"k": empty, "v": empty.clone(), "pos": 0}

    def step(self, x_t: torch.Tensor, state: dict):
        """x_t (B, D) -> (y_t, state): attend to the cached positions of this block's listed key blocks."""
        t, b = state["pos"], self.block_size
        n = t // b
        assert n < self.key_block_index.shape[0], f"position {t} exceeds max_seq_len"
        q, k, v = self.proj.qkv(x_t.unsqueeze(1), start=t)  # (B, H, 1, hd)
        k_all, v_all = torch.cat([state["k"], k], dim=2), torch.cat([state["v"], v], dim=2)
        listed = self.key_block_index[n][self.key_block_valid[n]]  # key blocks of block n
        visible = (listed.unsqueeze(1) * b + torch.arange(b, device=listed.device)).flatten()
        visible = visible[visible <= t]  # the own block only up to t; listed others are wholly past
        y = F.scaled_dot_product_attention(q, k_all[:, :, visible], v_all[:, :, visible])
        return self.proj.out(y).squeeze(1), {"k": k_all, "v": v_all, "pos": t + 1}

    def dense_mask(self, length: int) -> torch.Tensor:
        N = -(-length // self.block_size)
        return bigbird_dense_mask(self.key_block_index[:N], self.key_block_valid[:N], self.block_size, length)

    def dense_reference(self, x: torch.Tensor) -> torch.Tensor:
        """The same attention with this model's layout expanded to an (L, L) mask. For tests."""
        q, k, v = self.proj.qkv(x)  # (B, H, L, hd) each
        return self.proj.out(F.scaled_dot_product_attention(q, k, v, attn_mask=self.dense_mask(x.shape[1])))
