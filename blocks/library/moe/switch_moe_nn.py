"""Switch MoE (top-1) (``switch_moe``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.moe.switch_moe``; this module is imported only when a model is built."""
from __future__ import annotations

from blocks.library.moe.common_nn import MixtureOfExperts


def build_switch_moe(d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, **params):
    return MixtureOfExperts(d_model, max_seq_len=max_seq_len, layer_idx=layer_idx, seed=seed, top_k=1, **params)
