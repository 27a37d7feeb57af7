"""S4D (``s4d``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.ssm.s4d``; this module is imported only when a model is built."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.ssm.common_nn import seeded_init
from blocks.ops.diag_ssm import (
    diag_ssm_init_state,
    diag_ssm_step,
    fft_causal_conv,
    zoh_kernel,
    zoh_step_params,
)
from blocks.optim import SSM_LR_MAX, hint


# --------------------------------------------------------------------------- S4D


class S4D(nn.Module):
    """S4D layer (Gu et al. 2022): per-channel diagonal SSM kernel, D skip, GELU, linear + GLU.

    S4D-Lin initialisation: A_n = -1/2 + i pi n, dt log-uniform in [dt_min, dt_max], C ~ CN(0, 1).
    """

    def __init__(
        self,
        d_model: int,
        *,
        max_seq_len: int,
        layer_idx: int = 0,
        seed: int = 0,
        d_state: int = 64,
        dt_min: float = 0.001,
        dt_max: float = 0.1,
    ):
        super().__init__()
        assert d_state >= 2 and d_state % 2 == 0, f"d_state must be even (conjugate pairs), got {d_state}"
        assert 0 < dt_min < dt_max, f"need 0 < dt_min < dt_max, got {dt_min}, {dt_max}"
        self.d_model, self.d_state, self.max_seq_len = d_model, d_state, max_seq_len
        half = d_state // 2
        with seeded_init(seed):
            log_dt = torch.rand(d_model) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)
            self.log_dt = nn.Parameter(log_dt)  # (H,)
            self.A_real_log = nn.Parameter(torch.full((d_model, half), math.log(0.5)))  # (H, N/2)
            self.A_imag = nn.Parameter(math.pi * torch.arange(half).float().repeat(d_model, 1))
            # C complex (H, N/2) stored as real pairs so every parameter counts as real numbers
            self.C = nn.Parameter(torch.randn(d_model, half, 2) * math.sqrt(0.5))  # CN(0, 1)
            self.D = nn.Parameter(torch.randn(d_model))
            # As S4's reference registers them: the state-space parameters train without weight
            # decay and at a learning rate of at most 1e-3; C is not decayed either.
            hint(self.log_dt, self.A_real_log, self.A_imag, lr_max=SSM_LR_MAX)
            hint(self.C)
            self.output_linear = nn.Linear(d_model, 2 * d_model)  # then GLU back to d_model

    def _C(self) -> torch.Tensor:
        return torch.view_as_complex(self.C)

    def kernel(self, length: int) -> torch.Tensor:
        """The SSM convolution kernel (H, length)."""
        return zoh_kernel(self.log_dt, self.A_real_log, self.A_imag, self._C(), length)

    def _output(self, y: torch.Tensor) -> torch.Tensor:
        """GELU then a position-wise linear to 2H and GLU: (..., H) -> (..., H)."""
        return F.glu(self.output_linear(F.gelu(y)), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        u = x.transpose(1, 2)  # (B, H, L)
        y = fft_causal_conv(u, self.kernel(length)) + u * self.D.unsqueeze(-1)  # (B, H, L)
        return self._output(y.transpose(1, 2))  # (B, L, H)

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        return diag_ssm_init_state(batch_size, self.d_model, self.d_state // 2, device, dtype)

    def step(self, x_t: torch.Tensor, state: torch.Tensor):
        dA, dB_C = zoh_step_params(self.log_dt, self.A_real_log, self.A_imag, self._C())
        y_t, state = diag_ssm_step(x_t, state, dA, dB_C)  # (B, H)
        return self._output(y_t + x_t * self.D), state
