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
"""
from __future__ import annotations

import math

import torch
from torch import nn

from blocks.registry import Param
from workers.tasks import (
    IGNORE_INDEX, MIN_DISTINCT_EXAMPLES, TRAIN_EXAMPLES, TaskType, register, split_filtered, too_few_examples,
)

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


def generate(params: dict, generator: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    vocab, seq_len = params["vocab_size"], params["seq_len"]
    x = torch.randint(0, vocab - 1, (n, seq_len), generator=generator)
    x[:, -1] = vocab - 1
    y = x.clone()
    y[:, -1] = IGNORE_INDEX
    return x, y


TASK = register(TaskType(
    name=NAME,
    title="Compression (MAD)",
    description="Read a random sequence and rebuild all of it from the model's state at the last position "
                "(encoder plus a small decoder); non-causal blocks are allowed.",
    paper="Poli et al. 2024, Mechanistic Design and Scaling of Hybrid Architectures (MAD)",
    params=PARAMS,
    vocab_size=lambda p: p["vocab_size"],
    seq_len=lambda p: p["seq_len"],
    make_batch=split_filtered(NAME, generate),
    check=check,
    tags=("compression", "synthetic", "mad"),
    objective="reconstruct",
))


# --- the reconstruction objective (used by workers/trainer.py for objective="reconstruct") ----------


def sinusoidal_positions(length: int, dim: int) -> torch.Tensor:
    """(length, dim) fixed sine/cosine position embeddings (sines in the first half)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(-math.log(10000.0) * torch.arange(dim // 2, dtype=torch.float32) / max(1, dim // 2))
    angles = position * frequency
    table = torch.zeros(length, dim)
    table[:, : dim // 2] = torch.sin(angles)
    table[:, dim // 2: 2 * (dim // 2)] = torch.cos(angles)
    return table


class ReconstructionDecoder(nn.Module):
    """One vector (B, D) -> per-position states (B, L, D): vector + position, then a 2-layer MLP."""

    def __init__(self, d_model: int, seq_len: int):
        super().__init__()
        self.register_buffer("positions", sinusoidal_positions(seq_len, d_model), persistent=False)
        self.mlp = nn.Sequential(
            nn.LayerNorm(d_model), nn.Linear(d_model, d_model), nn.GELU(),
            nn.LayerNorm(d_model), nn.Linear(d_model, d_model), nn.GELU(),
        )

    def forward(self, code: torch.Tensor, length: int) -> torch.Tensor:
        return self.mlp(code[:, None, :] + self.positions[:length].to(code.dtype))


class ReconstructionModel(nn.Module):
    """A compiled spec as the encoder of an autoencoder: tokens (B, L) -> logits (B, L, vocab) that
    rebuild the tokens from the encoder's state at the last position.

    A forward pre-hook on the spec's output head swaps the residual stream it would read for the
    decoder's states, so the encoder's own graph runs unchanged and the logits come out of its head.
    State dict keys: ``encoder.*`` (the spec's model) and ``decoder.*``.
    """

    def __init__(self, encoder: nn.Module, seq_len: int):
        super().__init__()
        from blocks.library.structural.output_nn import OutputHead

        heads = [module for module in encoder.modules() if isinstance(module, OutputHead)]
        if len(heads) != 1:
            raise ValueError(f"the reconstruct objective needs a model with exactly one output head, found {len(heads)}")
        self.encoder = encoder
        self.decoder = ReconstructionDecoder(heads[0].lm_head.in_features, seq_len)
        heads[0].register_forward_pre_hook(self._decode)

    def _decode(self, head: nn.Module, args: tuple) -> tuple:
        hidden = args[0]  # (B, L, D): the residual stream entering the output head
        return (self.decoder(hidden[:, -1], hidden.size(1)),) + tuple(args[1:])

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.encoder(tokens)

    def aux_loss(self):
        aux = getattr(self.encoder, "aux_loss", None)
        return aux() if callable(aux) else None
