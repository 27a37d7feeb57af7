"""Chunk (local + global) (``chunk``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.hierarchy.chunk``; this module is imported only when a model is built."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.hierarchy.chunk import SUMMARIES


class ChunkGroup(nn.Module):
    """x (B, L, D) -> (B, L, D): local within chunks, global across chunk summaries (shifted)."""

    def __init__(self, d_model: int, chunk_size: int, summary: str, local: nn.Module, global_: nn.Module | None):
        super().__init__()
        assert summary in SUMMARIES, f"summary must be one of {SUMMARIES}, got {summary!r}"
        assert chunk_size >= 1, f"chunk_size must be positive, got {chunk_size}"
        self.chunk_size = chunk_size
        self.summary = summary
        self.local = local
        self.global_ = global_
        # The learned pooling query; zero init starts attention pooling as a plain mean.
        self.pool_query = nn.Parameter(torch.zeros(d_model)) if summary == "attention" else None

    def summarise(self, chunks: torch.Tensor) -> torch.Tensor:
        """chunks (B, n, c, D) -> (B, n, D)."""
        if self.summary == "mean":
            return chunks.mean(dim=2)
        if self.summary == "last":
            return chunks[:, :, -1]
        scores = chunks @ self.pool_query / math.sqrt(chunks.shape[-1])  # (B, n, c)
        return (F.softmax(scores, dim=-1).unsqueeze(-1) * chunks).sum(dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, d_model = x.shape
        c = self.chunk_size
        n = math.ceil(length / c)
        # Right padding only touches the last chunk, whose summary is shifted out of reach.
        padded = F.pad(x, (0, 0, 0, n * c - length))
        local = self.local(padded.reshape(batch * n, c, d_model)).reshape(batch, n, c, d_model)
        summaries = self.summarise(local)  # (B, n, D)
        if self.global_ is not None:
            summaries = self.global_(summaries)
        shifted = F.pad(summaries[:, :-1], (0, 0, 1, 0))  # chunk i gets summary of chunk i-1
        out = local + shifted.unsqueeze(2)  # (B, n, c, D)
        return out.reshape(batch, n * c, d_model)[:, :length]
