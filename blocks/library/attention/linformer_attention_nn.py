"""Linformer attention (``linformer_attention``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.attention.linformer_attention``; this module is imported only when a model is built."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.attention.common_nn import MultiHeadProjections, blocked_attention


# ----------------------------------------------------------------------------- Linformer

class LinformerAttention(nn.Module):
    """Keys and values projected along the length to ``proj_len`` slots (Linformer).

    Non-causal (the paper): K' = E·K, V' = F·V with E, F (proj_len, max_seq_len), and every
    query attends to the proj_len slots.

    Causal variant (ours): the sequence is cut into chunks of ``chunk_size``. A query in
    chunk n attends to (a) the proj_len slots of the *completed* chunks before n, i.e.
    E[:, :n·c]·K[:n·c] (the paper's projection restricted to the past, computed as a
    prefix sum of per-chunk projections), and (b) the tokens of its own chunk up to
    itself, exactly. Nothing after the query is used. Memory O(L·(proj_len + chunk_size)).
    Its step form carries the running projection of completed chunks plus the current chunk.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, heads: int = 4,
                 proj_len: int = 8, causal: bool = True, chunk_size: int = 8):
        super().__init__()
        assert 1 <= proj_len <= max_seq_len, f"proj_len must be in [1, {max_seq_len}], got {proj_len}"
        assert 1 <= chunk_size <= max_seq_len, f"chunk_size must be in [1, {max_seq_len}], got {chunk_size}"
        self.causal, self.chunk_size, self.max_seq_len = causal, chunk_size, max_seq_len
        self.proj = MultiHeadProjections(d_model, heads)
        # Shared across heads (the paper's "headwise sharing"); std 1/sqrt(max_seq_len) keeps
        # a projected key about as large as one key.
        self.key_compress = nn.Parameter(torch.randn(proj_len, max_seq_len) / math.sqrt(max_seq_len))
        self.value_compress = nn.Parameter(torch.randn(proj_len, max_seq_len) / math.sqrt(max_seq_len))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        assert L <= self.max_seq_len, f"sequence length {L} exceeds max_seq_len {self.max_seq_len}"
        q, k, v = self.proj.qkv(x)  # (B, H, L, hd)
        E, Fv = self.key_compress[:, :L], self.value_compress[:, :L]  # (r, L)
        if not self.causal:
            k_low = torch.einsum("rl,bhld->bhrd", E, k)  # (B, H, r, hd)
            v_low = torch.einsum("rl,bhld->bhrd", Fv, v)
            return self.proj.out(F.scaled_dot_product_attention(q, k_low, v_low))

        c = min(self.chunk_size, L)
        N = -(-L // c)
        pad = N * c - L
        H, r = self.proj.heads, E.shape[0]

        def chunks(t):  # (B, H, L, hd) -> (B, H, N, c, hd)
            return F.pad(t, (0, 0, 0, pad)).view(B, H, N, c, -1)

        def past_slots(proj, t):  # (B, H, N, r, hd): projection of all chunks before n
            per_chunk = torch.einsum("rnc,bhncd->bhnrd", F.pad(proj, (0, pad)).view(r, N, c), chunks(t))
            return torch.cumsum(per_chunk, dim=2) - per_chunk

        keys = torch.cat([past_slots(E, k), chunks(k)], dim=3)  # (B, H, N, r + c, hd)
        values = torch.cat([past_slots(Fv, v), chunks(v)], dim=3)
        has_past = (torch.arange(N, device=x.device) > 0).view(N, 1, 1).expand(N, c, r)
        own = torch.ones(c, c, dtype=torch.bool, device=x.device).tril().expand(N, c, c)
        mask = torch.cat([has_past, own], dim=-1)  # (N, c, r + c)
        y = blocked_attention(chunks(q), keys, values, mask)  # (B, H, N, c, hd)
        return self.proj.out(y.reshape(B, H, N * c, -1)[:, :, :L])

    def init_state(self, batch_size: int, device=None, dtype=None) -> dict:
        """Causal variant only: the projection of completed chunks, of the current chunk so far,
        and the current chunk's raw keys/values. Memory O(proj_len + chunk_size) per head."""
        assert self.causal, "the bidirectional Linformer has no step form (it reads future tokens)"
        H, hd, r = self.proj.heads, self.proj.head_dim, self.key_compress.shape[0]
        slots = torch.zeros(batch_size, H, r, hd, device=device, dtype=dtype)
        empty = torch.zeros(batch_size, H, 0, hd, device=device, dtype=dtype)
        return {"k_past": slots, "v_past": slots, "k_pending": slots, "v_pending": slots,
                "k_chunk": empty, "v_chunk": empty, "pos": 0}

    def step(self, x_t: torch.Tensor, state: dict):
        t, c = state["pos"], self.chunk_size
        assert t < self.max_seq_len, f"position {t} exceeds max_seq_len {self.max_seq_len}"
        q, k, v = self.proj.qkv(x_t.unsqueeze(1))  # (B, H, 1, hd)
        k_chunk, v_chunk = torch.cat([state["k_chunk"], k], dim=2), torch.cat([state["v_chunk"], v], dim=2)
        k_pending = state["k_pending"] + torch.einsum("r,bhd->bhrd", self.key_compress[:, t], k[:, :, 0])
        v_pending = state["v_pending"] + torch.einsum("r,bhd->bhrd", self.value_compress[:, t], v[:, :, 0])
        keys, values = k_chunk, v_chunk
        if t >= c:  # some chunk is complete: its projection is visible
            keys, values = torch.cat([state["k_past"], keys], dim=2), torch.cat([state["v_past"], values], dim=2)
        y = self.proj.out(F.scaled_dot_product_attention(q, keys, values)).squeeze(1)
        state = dict(state, k_chunk=k_chunk, v_chunk=v_chunk, k_pending=k_pending, v_pending=v_pending, pos=t + 1)
        if (t + 1) % c == 0:  # chunk complete: fold it into the past projection
            zero = torch.zeros_like(k_pending)
            state.update(k_past=state["k_past"] + k_pending, v_past=state["v_past"] + v_pending,
                         k_pending=zero, v_pending=zero, k_chunk=k_chunk[:, :, :0], v_chunk=v_chunk[:, :, :0])
        return y, state

    def dense_reference(self, x: torch.Tensor) -> torch.Tensor:
        """Causal variant, query by query with explicit past projections. For tests: O(L²·r)."""
        assert self.causal, "the reference is for the causal variant"
        B, L, D = x.shape
        q, k, v = self.proj.qkv(x)
        c = self.chunk_size
        outs = []
        for t in range(L):
            start = (t // c) * c  # first position of t's chunk
            E, Fv = self.key_compress[:, :start], self.value_compress[:, :start]
            keys, values = k[:, :, start:t + 1], v[:, :, start:t + 1]
            if start > 0:
                keys = torch.cat([torch.einsum("rl,bhld->bhrd", E, k[:, :, :start]), keys], dim=2)
                values = torch.cat([torch.einsum("rl,bhld->bhrd", Fv, v[:, :, :start]), values], dim=2)
            outs.append(F.scaled_dot_product_attention(q[:, :, t:t + 1], keys, values))
        return self.proj.out(torch.cat(outs, dim=2))
