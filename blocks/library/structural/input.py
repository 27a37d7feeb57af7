"""Input (token embedding) (``input``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the compiler builds this node itself
(from ``blocks.library.structural.input_nn``)."""
from __future__ import annotations

from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


POSITION_KINDS = ("none", "learned")


# ---- registry entries -------------------------------------------------------------------


def _input_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    # seq_len is max_seq_len when blocks.spec counts parameters: the position table's size.
    positions = seq_len * d_model if params.get("positions") == "learned" else 0
    return Cost(positions, float(d_model if positions else 0), float(seq_len * d_model * BYTES_PER_FLOAT))


register(
    BlockType(
        name="input",
        family="structural",
        title="Input (token embedding)",
        description="Token embedding, plus learned absolute positions when asked; the graph's single source.",
        paper="Vaswani et al. 2017, Attention Is All You Need (learned positions: Radford et al. 2019, GPT-2)",
        params=(
            Param("positions", "choice", "none", "Add a learned absolute position embedding.",
                  choices=POSITION_KINDS),
        ),
        module=None,
        cost=_input_cost,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        residual=False,
        structural=True,
        tags=("embedding",),
    )
)
