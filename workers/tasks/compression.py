"""Compression, as in MAD (Poli et al. 2024, "Mechanistic Design and Scaling of Hybrid
Architectures"; repository athms/mad-lab, ``generate_compression_instance`` and the
``AutoEncoder`` model of ``mad/model/auto_encoder.py``).

The model reads ``seq_len - 1`` random tokens and a final compression token (the top token of
the vocabulary), and the whole sequence must be rebuilt from one vector: the model's hidden state
at the last position. This is not next-token prediction (``objective="reconstruct"``): ``y[t]`` is
``x[t]`` itself, and the trainer wraps the compiled spec in ``ReconstructionModel``, which takes the
residual stream entering the spec's output head at the last position, adds a fixed sinusoidal
embedding of each position, runs a small MLP decoder (norm, linear, GELU, twice, as MAD's
hard-coded decoder) and reads out through the spec's own output head. Because only that one
vector reaches the decoder, blocks that see the future are allowed here (FNet, bidirectional
mixers): the encoder may mix the sequence either way.

Adapted from MAD: the compression token's own position is not scored (MAD scores it; it is
always the same token); the decoder shares the spec's output head (norm and unembedding, tied
to the embedding if the spec ties them) instead of a separate unembedding; no noise option (MAD's
benchmark uses none for this task); train and eval are split by hashing each example.

The registry entry is plain Python (params, checks, vocabulary and length); batches are made by
``workers.tasks.compression_data``, imported only when a run draws one.
"""
from __future__ import annotations

import math

from blocks.registry import Param
from workers.tasks import MIN_DISTINCT_EXAMPLES, TRAIN_EXAMPLES, TaskType, register, too_few_examples


NAME = "compression"

PARAMS = (
    Param("vocab_size", "int", 16, "tokens: vocab_size - 1 data tokens and the compression token", min=3, max=65536),
    Param("seq_len", "int", 32, "sequence length: seq_len - 1 data tokens, then the compression token",
          min=2, max=65536),
    TRAIN_EXAMPLES,
)


def check(params: dict) -> list[tuple[str, str]]:
    vocab, seq_len = params["vocab_size"], params["seq_len"]
    log_count = (seq_len - 1) * math.log(vocab - 1)
    count = MIN_DISTINCT_EXAMPLES if log_count > math.log(MIN_DISTINCT_EXAMPLES) else round(math.exp(log_count))
    return too_few_examples("seq_len", count, f"seq_len {seq_len} and vocab_size {vocab}",
                            "raise seq_len or vocab_size")


TASK = register(TaskType(
    name=NAME,
    title="Compression (MAD)",
    description="Read a random sequence and rebuild all of it from the model's state at the last position "
                "(encoder plus a small decoder); non-causal blocks are allowed.",
    paper="Poli et al. 2024, Mechanistic Design and Scaling of Hybrid Architectures (MAD)",
    params=PARAMS,
    vocab_size=lambda p: p["vocab_size"],
    seq_len=lambda p: p["seq_len"],
    batches="workers.tasks.compression_data.make_batch",
    check=check,
    tags=("compression", "synthetic", "mad"),
    objective="reconstruct",
))
