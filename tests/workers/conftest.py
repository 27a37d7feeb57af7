"""Fixtures for the workers tests: a tiny hand-written causal model to drive the trainer without the compiler."""
from __future__ import annotations

import pytest
import torch
from torch import nn
import torch.nn.functional as F


class TinyCausalLM(nn.Module):
    """Embedding, one causal self-attention layer and an MLP: enough to learn the synthetic tasks a little."""

    def __init__(self, vocab_size: int, d_model: int = 32, heads: int = 2, max_seq_len: int = 256, with_aux: bool = False):
        super().__init__()
        self.heads = heads
        self.embed = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(max_seq_len, d_model)
        self.norm1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))
        self.norm_out = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)
        self.with_aux = with_aux
        self._aux = None

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        batch, length = tokens.shape
        x = self.embed(tokens) + self.position(torch.arange(length, device=tokens.device))
        q, k, v = self.qkv(self.norm1(x)).view(batch, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, heads, L, head_dim)
        x = x + self.proj(attended.transpose(1, 2).reshape(batch, length, -1))
        x = x + self.mlp(self.norm2(x))
        if self.with_aux:
            self._aux = 0.01 * x.pow(2).mean()
        return self.head(self.norm_out(x))

    def aux_loss(self):
        return self._aux if self.with_aux else None


def build_tiny(spec, *, vocab_size, seed):
    return TinyCausalLM(vocab_size, d_model=spec["model"]["d_model"], max_seq_len=spec["model"]["max_seq_len"],
                        with_aux=spec.get("with_aux", False))


# What build_tiny reads; the real compiler is not involved in trainer tests that use it.
TINY_SPEC = {"version": 1, "model": {"d_model": 32, "max_seq_len": 128}}


@pytest.fixture
def tiny_spec():
    return {"version": 1, "model": dict(TINY_SPEC["model"])}
