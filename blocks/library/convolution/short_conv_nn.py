"""Short convolution (``short_conv``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.convolution.short_conv``; this module is imported only when a model is built."""
from __future__ import annotations

import torch
from torch import nn

from blocks.library.convolution.common_nn import CausalDepthwiseConv


# --------------------------------------------------------------------------- short convolution


class ShortConv(nn.Module):
    """A short causal depthwise convolution over the sequence, optionally gated (BaseConv).

    Plain: y = conv_k(x), each channel a learned filter over the last ``kernel_size`` tokens:
    the token shift that Zoology's and Based's attention layers carry, and that lets a layer
    after it see the previous token without learning a positional attention pattern.
    Gated (BaseConv, Arora et al. 2023, Zoology): y = out_proj(in_proj(x) * conv_k(x)).
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 kernel_size: int = 4, gated: bool = False):
        super().__init__()
        self.d_model, self.kernel_size, self.gated = d_model, kernel_size, gated
        self.conv = CausalDepthwiseConv(d_model, kernel_size, bias=True)
        self.in_proj = nn.Linear(d_model, d_model) if gated else None
        self.out_proj = nn.Linear(d_model, d_model) if gated else None

    def _mix(self, x: torch.Tensor, conv: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.in_proj(x) * conv) if self.gated else conv

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._mix(x, self.conv(x.transpose(1, 2)).transpose(1, 2))

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        """The last kernel_size - 1 inputs (B, D, K - 1), oldest first."""
        return torch.zeros(batch_size, self.d_model, self.kernel_size - 1, device=device, dtype=dtype)

    def step(self, x_t: torch.Tensor, window: torch.Tensor):
        conv, window = self.conv.step(x_t, window)
        return self._mix(x_t, conv), window
