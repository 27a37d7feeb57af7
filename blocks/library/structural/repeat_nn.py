"""Repeat (``repeat``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.structural.repeat``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
from torch import nn


class Repeat(nn.Module):
    """A sub-graph stacked `times` times, each repetition with its own weights."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x
