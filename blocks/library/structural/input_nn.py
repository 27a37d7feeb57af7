"""Input (token embedding) (``input``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.structural.input``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
from torch import nn

from blocks.library.structural.input import POSITION_KINDS


class TokenEmbedding(nn.Module):
    """tokens (B, L) int64 -> (B, L, D): token embedding plus optional learned absolute positions."""

    def __init__(self, vocab_size: int, d_model: int, max_seq_len: int, positions: str = "none"):
        super().__init__()
        assert positions in POSITION_KINDS, f"positions must be one of {POSITION_KINDS}, got {positions!r}"
        self.tokens = nn.Embedding(vocab_size, d_model)
        self.positions = nn.Embedding(max_seq_len, d_model) if positions == "learned" else None
        self.max_seq_len = max_seq_len
        # GPT-2's small init: with tied embeddings N(0, 1) would start the logits far too large.
        nn.init.normal_(self.tokens.weight, std=0.02)
        if self.positions is not None:
            nn.init.normal_(self.positions.weight, std=0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.tokens(tokens)  # (B, L, D)
        if self.positions is not None:
            length = tokens.shape[1]
            assert length <= self.max_seq_len, f"sequence length {length} > max_seq_len {self.max_seq_len}"
            x = x + self.positions(torch.arange(length, device=tokens.device))  # (L, D) broadcast
        return x

    def init_state(self, batch_size: int, device=None, dtype=None):
        return 0  # the position of the next token

    def step(self, token_t: torch.Tensor, position: int):
        """token_t (B,) -> ((B, D), position + 1)."""
        x = self.tokens(token_t)
        if self.positions is not None:
            assert position < self.max_seq_len, f"position {position} >= max_seq_len {self.max_seq_len}"
            x = x + self.positions.weight[position]
        return x, position + 1
