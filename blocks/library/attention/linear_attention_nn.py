"""Linear attention (``linear_attention``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.attention.linear_attention``; this module is imported only when a model is built."""
from __future__ import annotations

import torch.nn.functional as F

from blocks.library.attention.common_nn import LinearAttentionBase


class LinearAttention(LinearAttentionBase):
    """Katharopoulos et al.: phi(x) = elu(x) + 1, causal prefix sums, normalised."""

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, heads: int = 4):
        super().__init__(d_model, heads)

    def features(self, x, is_query):
        return F.elu(x) + 1
