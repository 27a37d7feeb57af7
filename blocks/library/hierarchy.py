"""The hierarchy family: the `chunk` group, a causal two-level model of the sequence.

The sequence is cut into chunks of `chunk_size` tokens (right-padded). The `local`
sub-graph runs inside each chunk independently; each chunk is summarised to one vector
(`mean`, `last` token, or `attention` pooling with a learned query); the optional
`global` sub-graph runs over the chunk summaries; the result is shifted right by one
chunk, so chunk i sees only summaries of chunks < i, and added to every token of the
chunk. Causal whenever the children are: nothing of chunk i reaches a token before it.
In the spirit of Block-Recurrent Transformers (Hutchins et al. 2022) and MEGABYTE (Yu et
al. 2023). The compiler builds the sub-graphs and hands them to ``ChunkGroup``.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from blocks.registry import BlockType, Cost, Param, register

BYTES_PER_FLOAT = 4
SUMMARIES = ("mean", "last", "attention")
LOCAL_SLOT, GLOBAL_SLOT = "local", "global"


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


def global_seq_len(max_seq_len: int, chunk_size: int) -> int:
    """How many summaries the global sub-graph sees at most."""
    return max(1, math.ceil(max_seq_len / chunk_size))


def _chunk_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    # Only the group's own work; blocks.spec adds the children at their own lengths.
    pooling_params = d_model if params["summary"] == "attention" else 0
    return Cost(pooling_params, float(4 * d_model), float(seq_len * d_model * BYTES_PER_FLOAT))


def _chunk_state(d_model: int, seq_len: int, params: dict) -> float:
    # Only the group's own: the current chunk's running summary and the global vector added to it
    # (attention pooling also keeps its running max and normaliser). blocks.spec adds the local
    # children's state at chunk_size and the global children's over the chunk summaries.
    return float((2 * d_model + (2 if params["summary"] == "attention" else 0)) * BYTES_PER_FLOAT)


def _chunk_check(d_model: int, max_seq_len: int, params: dict):
    if params["chunk_size"] > max_seq_len:
        yield "chunk_size", f"chunk_size {params['chunk_size']} exceeds the sequence length {max_seq_len}"


register(
    BlockType(
        name="chunk",
        family="hierarchy",
        title="Chunk (local + global)",
        description="Run a `local` sub-graph within fixed-size chunks and a `global` one over chunk summaries, "
        "shifted one chunk so it stays causal, then add the result back to every token.",
        paper="Hutchins et al. 2022, Block-Recurrent Transformers; Yu et al. 2023, MEGABYTE",
        params=(
            Param("chunk_size", "int", 16, "Tokens per chunk.", min=1, max=4096),
            Param("summary", "choice", "mean", "How a chunk becomes one vector: mean, last token, or "
                  "attention pooling with a learned query.", choices=SUMMARIES),
        ),
        build=None,
        cost=_chunk_cost,
        state=_chunk_state,
        complexity="O(L)",
        causal=True,
        recurrent=False,
        residual=False,
        check=_chunk_check,
        structural=True,
        tags=("group", "hierarchical"),
    )
)
