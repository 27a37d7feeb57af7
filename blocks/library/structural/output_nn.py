"""Output (norm + LM head) (``output``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.structural.output``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
from torch import nn

from blocks.library.structural.norm_nn import make_norm


class OutputHead(nn.Module):
    """(B, L, D) -> logits (B, L, vocab): final norm then the LM head, optionally tied to the embedding."""

    def __init__(self, d_model: int, vocab_size: int, norm: str, tied_embedding: nn.Embedding | None = None):
        super().__init__()
        self.norm = make_norm(norm, d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        if tied_embedding is not None:
            assert tied_embedding.weight.shape == self.lm_head.weight.shape, "tied shapes differ"
            self.lm_head.weight = tied_embedding.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.norm(x))
