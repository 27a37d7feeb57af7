"""Batches of ``compression`` (torch); the task's entry is ``workers.tasks.compression``."""
from __future__ import annotations

import math

import torch
from torch import nn

from blocks.library.structural.output_nn import OutputHead
from workers.tasks import IGNORE_INDEX
from workers.tasks.compression import NAME
from workers.tasks.sampling import split_filtered


def generate(params: dict, generator: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    vocab, seq_len = params["vocab_size"], params["seq_len"]
    x = torch.randint(0, vocab - 1, (n, seq_len), generator=generator)
    x[:, -1] = vocab - 1
    y = x.clone()
    y[:, -1] = IGNORE_INDEX
    return x, y


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


make_batch = split_filtered(NAME, generate)
