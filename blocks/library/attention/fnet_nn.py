"""FNet Fourier mixing (``fnet``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.attention.fnet``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
from torch import nn


# ----------------------------------------------------------------------------- FNet

class FNetMixing(nn.Module):
    """FNet: the real part of the 2-D Fourier transform over sequence and hidden. No parameters.

    Every output mixes every position, future ones included: it is not causal.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0):
        super().__init__()
        self.d_model = d_model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-1] == self.d_model, f"expected last dim {self.d_model}, got {tuple(x.shape)}"
        # FFT in float32 at least: half-precision FFTs need power-of-two sizes.
        return torch.fft.fft2(x.float(), dim=(-2, -1)).real.to(x.dtype)
