"""Memory tokens (``memory_tokens``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.memory.memory_tokens``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.attention.common import ROTARY_POSITIONS
from blocks.library.attention.common_nn import MultiHeadProjections
from blocks.optim import hint


# ----------------------------------------------------------------------------- memory tokens

class MemoryTokenAttention(nn.Module):
    """Causal attention whose keys/values are prefixed by ``num_tokens`` learned memory slots.

    Each head owns learned key and value vectors (the "persistent memory" of Sukhbaatar et
    al.); every position can read them, and among the real tokens attention stays causal.
    The memory has no position: RoPE rotates only real queries and keys.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 heads: int = 4, num_tokens: int = 8, position: str = "rope"):
        super().__init__()
        assert num_tokens >= 1, f"num_tokens must be >= 1, got {num_tokens}"
        assert position in ROTARY_POSITIONS, f"position must be one of {ROTARY_POSITIONS}, got {position!r}"
        self.position = position
        self.proj = MultiHeadProjections(d_model, heads, rotary=position == "rope")
        H, hd = self.proj.heads, self.proj.head_dim
        self.memory_keys = nn.Parameter(torch.randn(H, num_tokens, hd) * hd ** -0.5)
        self.memory_values = nn.Parameter(torch.randn(H, num_tokens, hd) * hd ** -0.5)
        hint(self.memory_keys, self.memory_values)  # learned tokens: embeddings, not decayed

    def _with_memory(self, t: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Prepend the (H, n, hd) memory to t (B, H, L, hd)."""
        return torch.cat([memory.unsqueeze(0).expand(t.shape[0], -1, -1, -1), t], dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        L = x.shape[1]
        q, k, v = self.proj.qkv(x)  # (B, H, L, hd)
        n = self.memory_keys.shape[1]
        mask = torch.cat([torch.ones(L, n, dtype=torch.bool, device=x.device),
                          torch.ones(L, L, dtype=torch.bool, device=x.device).tril()], dim=1)  # (L, n + L)
        y = F.scaled_dot_product_attention(q, self._with_memory(k, self.memory_keys),
                                           self._with_memory(v, self.memory_values), attn_mask=mask)
        return self.proj.out(y)

    def init_state(self, batch_size: int, device=None, dtype=None) -> dict:
        """KV cache of the real tokens (the memory is read from the parameters each step)."""
        empty = torch.zeros(batch_size, self.proj.heads, 0, self.proj.head_dim, device=device, dtype=dtype)
        return {"k": empty, "v": empty.clone(), "pos": 0}

    def step(self, x_t: torch.Tensor, state: dict):
        q, k, v = self.proj.qkv(x_t.unsqueeze(1), start=state["pos"])
        k_all, v_all = torch.cat([state["k"], k], dim=2), torch.cat([state["v"], v], dim=2)
        y = F.scaled_dot_product_attention(q, self._with_memory(k_all, self.memory_keys),
                                           self._with_memory(v_all, self.memory_values))
        return self.proj.out(y).squeeze(1), {"k": k_all, "v": v_all, "pos": state["pos"] + 1}
