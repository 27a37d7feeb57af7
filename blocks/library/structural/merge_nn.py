"""Merge (``merge``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.structural.merge``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.structural.merge import MERGE_INPUTS_KEY, MERGE_MODES


class Merge(nn.Module):
    """Combine k inputs (each (B, L, D)) into one.

    sum, mean: parameter-free. gated: a softmax over the k inputs per token, computed by a
    linear map of their concatenation. concat: concatenate then project back to D.
    Everything is per position, so a merge is causal and also works on (B, D) steps.
    """

    def __init__(self, d_model: int, mode: str, num_inputs: int):
        super().__init__()
        assert mode in MERGE_MODES, f"mode must be one of {MERGE_MODES}, got {mode!r}"
        assert num_inputs >= 1, f"a merge needs at least one input, got {num_inputs}"
        self.mode = mode
        self.num_inputs = num_inputs
        self.proj = None
        if mode == "gated":
            self.proj = nn.Linear(num_inputs * d_model, num_inputs)
        elif mode == "concat":
            self.proj = nn.Linear(num_inputs * d_model, d_model)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        assert len(inputs) == self.num_inputs, f"expected {self.num_inputs} inputs, got {len(inputs)}"
        if self.mode == "sum":
            return torch.stack(inputs).sum(0)
        if self.mode == "mean":
            return torch.stack(inputs).mean(0)
        joined = torch.cat(inputs, dim=-1)  # (..., k*D)
        if self.mode == "concat":
            return self.proj(joined)
        gates = F.softmax(self.proj(joined), dim=-1)  # (..., k)
        return (torch.stack(inputs, dim=-1) * gates.unsqueeze(-2)).sum(-1)  # (..., D)


def build_merge(d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, **params) -> Merge:
    return Merge(d_model, params["mode"], int(params.get(MERGE_INPUTS_KEY, 2)))
