"""Softmax attention (``softmax_attention``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.attention.softmax_attention``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.attention.common_nn import MultiHeadProjections
from blocks.library.attention.softmax_attention import POSITIONS


# ----------------------------------------------------------------------------- softmax attention

class SoftmaxAttention(nn.Module):
    """Causal multi-head (or grouped-query) softmax attention with a KV-cache step form.

    position: rope (rotary on q, k), learned (an absolute embedding added to the input,
    GPT-2 style, max_seq_len rows) or none.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 heads: int = 4, kv_heads: int = 0, position: str = "rope", bias: bool = False):
        super().__init__()
        assert position in POSITIONS, f"position must be one of {POSITIONS}, got {position!r}"
        assert kv_heads >= 0, f"kv_heads must be >= 0, got {kv_heads}"
        self.max_seq_len, self.position = max_seq_len, position
        self.proj = MultiHeadProjections(d_model, heads, kv_heads or heads, bias, rotary=position == "rope")
        self.pos_emb = None
        if position == "learned":
            self.pos_emb = nn.Embedding(max_seq_len, d_model)
            nn.init.normal_(self.pos_emb.weight, std=0.02)  # GPT-2's scale: small next to the normed input

    def _project(self, x: torch.Tensor, positions: torch.Tensor):
        """q, k, v at ``positions`` (consecutive)."""
        if self.pos_emb is not None:
            assert int(positions[-1]) < self.max_seq_len, f"position {int(positions[-1])} >= max_seq_len"
            x = x + self.pos_emb(positions)
        return self.proj.qkv(x, start=int(positions[0]))  # (B, H, L, hd), (B, Hkv, L, hd) x2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(x.shape[1], device=x.device)
        q, k, v = self._project(x, positions)
        y = F.scaled_dot_product_attention(q, self.proj.expand_kv(k), self.proj.expand_kv(v), is_causal=True)
        return self.proj.out(y)  # (B, L, D)

    def init_state(self, batch_size: int, device=None, dtype=None) -> dict:
        """KV cache: keys and values seen so far (B, Hkv, t, hd) and the next position."""
        empty = torch.zeros(batch_size, self.proj.kv_heads, 0, self.proj.head_dim, device=device, dtype=dtype)
        return {"k": empty, "v": empty.clone(), "pos": 0}

    def step(self, x_t: torch.Tensor, state: dict):
        """x_t (B, D) -> (y_t (B, D), state): attend from position pos to the cache plus itself."""
        positions = torch.tensor([state["pos"]], device=x_t.device)
        q, k, v = self._project(x_t.unsqueeze(1), positions)  # (B, H, 1, hd), (B, Hkv, 1, hd)
        k_all = torch.cat([state["k"], k], dim=2)
        v_all = torch.cat([state["v"], v], dim=2)
        y = F.scaled_dot_product_attention(q, self.proj.expand_kv(k_all), self.proj.expand_kv(v_all))
        return self.proj.out(y).squeeze(1), {"k": k_all, "v": v_all, "pos": state["pos"] + 1}
