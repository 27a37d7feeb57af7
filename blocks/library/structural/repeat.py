"""Repeat (``repeat``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the compiler builds this node itself
(from ``blocks.library.structural.repeat_nn``)."""
from __future__ import annotations

from blocks.library.structural.common import no_cost
from blocks.registry import BlockType, Param, register


register(
    BlockType(
        name="repeat",
        family="structural",
        title="Repeat",
        description="A sub-graph (its children) stacked N times, each repetition with independent weights.",
        paper="Vaswani et al. 2017 (a stack of identical layers)",
        params=(
            Param("times", "int", 2, "How many times the sub-graph is stacked.", min=1, max=64),
        ),
        module=None,
        cost=no_cost,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        residual=False,
        structural=True,
        tags=("group",),
    )
)
