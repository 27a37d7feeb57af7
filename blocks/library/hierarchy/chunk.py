"""Chunk (local + global) (``chunk``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the compiler builds this node itself
(from ``blocks.library.hierarchy.chunk_nn``)."""
from __future__ import annotations

import math

from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


SUMMARIES = ("mean", "last", "attention")


LOCAL_SLOT, GLOBAL_SLOT = "local", "global"


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
        module=None,
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
