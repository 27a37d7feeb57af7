"""Seeded initialisation shared by the state-space and recurrent modules."""
from __future__ import annotations

from contextlib import contextmanager

import torch


@contextmanager
def seeded_init(seed: int):
    """Initialise parameters from ``seed`` without disturbing the global RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
