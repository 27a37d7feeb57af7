"""Output (norm + LM head) (``output``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the compiler builds this node itself
(from ``blocks.library.structural.output_nn``)."""
from __future__ import annotations

from blocks.library.structural.common import no_cost
from blocks.registry import BlockType, register


register(
    BlockType(
        name="output",
        family="structural",
        title="Output (norm + LM head)",
        description="Final norm and the language-model head (tied to the embedding if the model says so).",
        paper="Press & Wolf 2017, Using the Output Embedding to Improve Language Models",
        params=(),
        module=None,
        cost=no_cost,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        residual=False,
        structural=True,
        tags=("head",),
    )
)
