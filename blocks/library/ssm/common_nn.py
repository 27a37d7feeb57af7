"""Seeded initialisation shared by the state-space and recurrent modules."""
from __future__ import annotations

import math
from contextlib import contextmanager

import torch


@contextmanager
def seeded_init(seed: int):
    """Initialise parameters from ``seed`` without disturbing the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def dt_bias_init(n: int, dt_min: float, dt_max: float) -> torch.Tensor:
    """The bias whose softplus is a step size drawn log-uniform in [dt_min, dt_max] (Mamba's dt_proj
    bias, Mamba-2's and Gated DeltaNet's dt_bias): softplus^-1(dt) = dt + log(1 - exp(-dt))."""
    dt = torch.exp(torch.rand(n) * (math.log(dt_max) - math.log(dt_min)) + math.log(dt_min)).clamp(min=1e-4)
    return dt + torch.log(-torch.expm1(-dt))
