"""Segment recurrence (Transformer-XL) (``segment_recurrence``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.memory.segment_recurrence``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.attention.common import ROTARY_POSITIONS
from blocks.library.attention.common_nn import MultiHeadProjections, blocked_attention, rope, split_heads


# ----------------------------------------------------------------------------- Transformer-XL

class SegmentRecurrentAttention(nn.Module):
    """Transformer-XL segment recurrence within one sequence.

    The sequence is cut into segments of ``segment_len``. Segment n attends to the cached
    hidden states (this layer's inputs) of segment n−1, with gradients stopped as in the
    paper, plus itself under the lower-right causal mask: token i of the segment sees the
    whole previous segment and positions <= i of its own. Keys and values of the cache are
    made by this layer's projections from the cached inputs. Relative positions: we use
    RoPE on absolute positions (q·k then depends only on the offset) instead of the paper's
    learned r/u/v relative terms; ``position=none`` turns it off.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 heads: int = 4, segment_len: int = 8, position: str = "rope"):
        super().__init__()
        assert 1 <= segment_len <= max_seq_len, f"segment_len must be in [1, {max_seq_len}], got {segment_len}"
        assert position in ROTARY_POSITIONS, f"position must be one of {ROTARY_POSITIONS}, got {position!r}"
        self.segment_len, self.position = segment_len, position
        self.proj = MultiHeadProjections(d_model, heads)
        assert position != "rope" or self.proj.head_dim % 2 == 0, "rope needs an even head size"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        s, H = self.segment_len, self.proj.heads
        N = -(-L // s)
        segments = F.pad(x, (0, 0, 0, N * s - L)).view(B, N, s, D)
        cached = F.pad(segments, (0, 0, 0, 0, 1, 0))[:, :-1].detach()  # (B, N, s, D): segment n−1, stop-grad
        q = self.proj.q_proj(segments).view(B, N, s, H, -1).permute(0, 3, 1, 2, 4)  # (B, H, N, s, hd)
        kv = self.proj.kv_proj(torch.cat([cached, segments], dim=2))  # (B, N, 2s, 2D)
        k, v = (t.view(B, N, 2 * s, H, -1).permute(0, 3, 1, 2, 4) for t in kv.chunk(2, dim=-1))  # (B, H, N, 2s, hd)
        if self.position == "rope":
            n = torch.arange(N, device=x.device).unsqueeze(1)
            q = rope(q, n * s + torch.arange(s, device=x.device))  # positions (N, s)
            k = rope(k, (n - 1) * s + torch.arange(2 * s, device=x.device))  # positions (N, 2s)
        has_cache = (torch.arange(N, device=x.device) > 0).view(N, 1, 1).expand(N, s, s)
        own = torch.ones(s, s, dtype=torch.bool, device=x.device).tril().expand(N, s, s)
        mask = torch.cat([has_cache, own], dim=-1)  # (N, s, 2s): lower-right causal
        y = blocked_attention(q, k, v, mask)  # (B, H, N, s, hd)
        return self.proj.out(y.reshape(B, H, N * s, -1)[:, :, :L])

    def init_state(self, batch_size: int, device=None, dtype=None) -> dict:
        """Inputs of the previous complete segment, inputs of the current one so far, next position."""
        empty = torch.zeros(batch_size, 0, self.proj.q_proj.in_features, device=device, dtype=dtype)
        return {"cached": empty, "current": empty.clone(), "pos": 0}

    def step(self, x_t: torch.Tensor, state: dict):
        pos = state["pos"]
        current = torch.cat([state["current"], x_t.unsqueeze(1)], dim=1)  # (B, j + 1, D)
        context = torch.cat([state["cached"], current], dim=1)  # (B, c, D)
        q = split_heads(self.proj.q_proj(x_t.unsqueeze(1)), self.proj.heads)  # (B, H, 1, hd)
        k, v = (split_heads(t, self.proj.heads) for t in self.proj.kv_proj(context).chunk(2, dim=-1))
        if self.position == "rope":
            q = rope(q, torch.tensor([pos], device=x_t.device))
            k = rope(k, torch.arange(pos + 1 - context.shape[1], pos + 1, device=x_t.device))
        y = self.proj.out(F.scaled_dot_product_attention(q, k, v)).squeeze(1)
        if current.shape[1] == self.segment_len:  # segment complete: it becomes the cache
            state = {"cached": current.detach(), "current": current[:, :0], "pos": pos + 1}
        else:
            state = {"cached": state["cached"], "current": current, "pos": pos + 1}
        return y, state
