"""The zero cost of structural nodes that hold no parameters; plain Python."""
from __future__ import annotations

from blocks.registry import ZERO_COST, Cost


def no_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    return ZERO_COST
