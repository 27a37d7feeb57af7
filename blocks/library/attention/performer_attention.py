"""Performer (FAVOR+) (``performer_attention``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.attention.performer_attention_nn.PerformerAttention``, is imported only when a model is built."""
from __future__ import annotations

import math

from blocks.library.attention.common import HEADS_PARAM, linear_check, linear_family_cost, linear_family_state
from blocks.registry import BlockType, Cost, Param, register


def performer_features_default(d_model: int, max_seq_len: int, p: dict) -> int:
    """FastAttention's default (performer-pytorch): int(head_dim * ln(head_dim)), at least 1."""
    head_dim = max(1, d_model // p["heads"])
    return max(1, int(head_dim * math.log(head_dim)))


def performer_state(d_model: int, seq_len: int, p: dict) -> float:
    return linear_family_state(d_model, p["heads"], p["nb_features"])


def performer_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    m = p["nb_features"]
    return linear_family_cost(d_model, seq_len, p["heads"], m, feature_macs=2 * m * d_model)


register(BlockType(
    name="performer_attention",
    family="attention",
    title="Performer (FAVOR+)",
    description="Causal softmax-kernel approximation with positive orthogonal random features, via prefix sums.",
    paper="Choromanski et al. 2021, Rethinking Attention with Performers",
    params=(
        HEADS_PARAM,
        Param("nb_features", "int", 64, "Random features m per head (fixed per model by its seed). Left out: "
              "int(head_dim * ln head_dim), FastAttention's default.", min=1, max=4096,
              context_default=performer_features_default, paper_value="head_dim * ln(head_dim)"),
    ),
    module="blocks.library.attention.performer_attention_nn.PerformerAttention",
    cost=performer_cost,
    state=performer_state,
    complexity="O(L)",
    causal=True,
    recurrent=True,
    check=linear_check,
    tags=("linear", "kernel", "random"),
))
