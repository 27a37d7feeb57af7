"""Norm (``norm``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.structural.norm``; this module is imported only when a model is built."""
from __future__ import annotations

from torch import nn

from blocks.library.structural.norm import NORM_KINDS


def make_norm(kind: str, d_model: int) -> nn.Module:
    """The model's normalisation layer: RMSNorm (weight only) or LayerNorm (weight and bias)."""
    assert kind in NORM_KINDS, f"norm must be one of {NORM_KINDS}, got {kind!r}"
    return nn.RMSNorm(d_model, eps=1e-5) if kind == "rmsnorm" else nn.LayerNorm(d_model, eps=1e-5)


def build_norm(d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, **params) -> nn.Module:
    return make_norm(params["kind"], d_model)
