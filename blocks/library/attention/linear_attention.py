"""Linear attention (``linear_attention``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.attention.linear_attention_nn.LinearAttention``, is imported only when a model is built."""
from __future__ import annotations

from blocks.library.attention.common import HEADS_PARAM, linear_check, linear_family_cost, linear_family_state
from blocks.registry import BlockType, Cost, register


def linear_attention_state(d_model: int, seq_len: int, p: dict) -> float:
    return linear_family_state(d_model, p["heads"], d_model // p["heads"])


def linear_attention_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    return linear_family_cost(d_model, seq_len, p["heads"], d_model // p["heads"], feature_macs=0)


register(BlockType(
    name="linear_attention",
    family="attention",
    title="Linear attention",
    description="Causal linear attention with feature map elu(x)+1: prefix sums instead of softmax, "
                "O(1) state per step.",
    paper="Katharopoulos et al. 2020, Transformers are RNNs: Fast Autoregressive Transformers with Linear Attention",
    params=(HEADS_PARAM,),
    module="blocks.library.attention.linear_attention_nn.LinearAttention",
    cost=linear_attention_cost,
    state=linear_attention_state,
    complexity="O(L)",
    causal=True,
    recurrent=True,
    check=linear_check,
    tags=("linear", "kernel"),
))
