"""Performer (FAVOR+) (``performer_attention``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.attention.performer_attention``; this module is imported only when a model is built."""
from __future__ import annotations

import torch

from blocks.library.attention.common_nn import LinearAttentionBase


def orthogonal_random_features(nb_features: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """(nb_features, dim) Gaussian rows made orthogonal in blocks of dim, rescaled to Gaussian norms (FAVOR+)."""
    blocks = []
    for _ in range(-(-nb_features // dim)):
        q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator))
        # Fixing the signs by diag(R) makes Q uniformly (Haar) distributed; without it the
        # rows are not uniform on the sphere and the kernel estimate is biased.
        blocks.append((q * torch.sign(torch.diagonal(r))).T)
    directions = torch.cat(blocks)[:nb_features]
    norms = torch.randn(nb_features, dim, generator=generator).norm(dim=1, keepdim=True)
    return directions * norms


class PerformerAttention(LinearAttentionBase):
    """FAVOR+: positive orthogonal random features approximating the softmax kernel.

    phi(x) = exp(w·x − |x|²/2) / sqrt(m) with x scaled by head_dim^-1/4 so that
    E[phi(q)·phi(k)] = exp(q·k / sqrt(head_dim)). Queries subtract their own max exponent
    (it cancels in the normalisation); keys are not shifted, because a shift shared across
    positions would have to look at the future. The exponent is bounded above by |w|²/2.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 heads: int = 4, nb_features: int = 64):
        super().__init__(d_model, heads)
        assert nb_features >= 1, f"nb_features must be >= 1, got {nb_features}"
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("projection", orthogonal_random_features(nb_features, self.head_dim, generator))

    def features(self, x, is_query):
        x = x * self.head_dim ** -0.25
        projection = self.projection.to(x.dtype)
        exponent = x @ projection.T - x.square().sum(-1, keepdim=True) / 2  # (..., m)
        if is_query:
            exponent = exponent - exponent.amax(-1, keepdim=True).detach()
        return exponent.exp() * self.projection.shape[0] ** -0.5
