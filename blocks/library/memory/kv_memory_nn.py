"""Persistent key-value memory (read-only) (``kv_memory``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.memory.kv_memory``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
from torch import nn

from blocks.library.attention.common_nn import merge_heads, split_heads
from blocks.optim import hint


# ----------------------------------------------------------------------------- key-value memory

class KeyValueMemory(nn.Module):
    """A read-only head over learned key-value slots: the persistent memory vectors of
    Sukhbaatar et al. 2019's all-attention layer, attended on their own.

    Each head's query, made from the token, is compared with ``slots`` learned keys; the
    softmax weights read the learned values (the key-value read of End-To-End Memory
    Networks, with learned slots instead of a story). Nothing writes to the slots at run time
    (no NTM/DNC write or erase, only gradient updates), and it looks at no other position:
    a position-wise layer, like a feed-forward layer with a softmax over its hidden units, so
    it is causal and its step is the same computation on one token. Unlike Lample et al.
    2019's product-key memory it scores every slot densely (no product keys, no top-k).
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 heads: int = 4, slots: int = 64):
        super().__init__()
        assert d_model % heads == 0, f"heads ({heads}) must divide d_model ({d_model})"
        assert slots >= 1, f"slots must be >= 1, got {slots}"
        self.heads, head_dim = heads, d_model // heads
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.memory_keys = nn.Parameter(torch.randn(heads, slots, head_dim) * head_dim ** -0.5)
        self.memory_values = nn.Parameter(torch.randn(heads, slots, head_dim) * head_dim ** -0.5)
        hint(self.memory_keys, self.memory_values)  # slots are looked up like embeddings (PKM): not decayed
        self.out_proj = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = split_heads(self.q_proj(x), self.heads)  # (B, H, L, hd)
        weights = (q @ self.memory_keys.transpose(-1, -2) * q.shape[-1] ** -0.5).softmax(-1)  # (B, H, L, slots)
        return self.out_proj(merge_heads(weights @ self.memory_values))  # (B, L, D)

    def init_state(self, batch_size: int, device=None, dtype=None):
        """The read depends on the current token only: no state."""
        return None

    def step(self, x_t: torch.Tensor, state=None):
        return self.forward(x_t.unsqueeze(1)).squeeze(1), state
