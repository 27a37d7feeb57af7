"""The causal depthwise convolution the convolution modules share."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CausalDepthwiseConv(nn.Module):
    """Per-channel causal FIR filter: x (B, C, L) -> (B, C, L), y[t] = sum_j w[j] x[t-K+1+j]."""

    def __init__(self, channels: int, kernel_size: int, bias: bool):
        super().__init__()
        assert kernel_size >= 1, f"kernel_size must be >= 1, got {kernel_size}"
        self.kernel_size = kernel_size
        self.conv = nn.Conv1d(channels, channels, kernel_size, groups=channels, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Left padding only: output t sees inputs t-K+1..t, never the future.
        return self.conv(F.pad(x, (self.kernel_size - 1, 0)))

    def step(self, x_t: torch.Tensor, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x_t (B, C); window (B, C, K-1) of the previous inputs, oldest first."""
        full = torch.cat([window, x_t.unsqueeze(-1)], dim=-1)  # (B, C, K)
        y_t = (full * self.conv.weight.squeeze(1)).sum(-1)  # (B, C)
        if self.conv.bias is not None:
            y_t = y_t + self.conv.bias
        return y_t, full[..., 1:]
