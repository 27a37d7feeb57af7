"""Mixture of experts (top-k) (``moe``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.moe.common_nn.MixtureOfExperts``, is imported only when a model is built."""
from __future__ import annotations

from blocks.library.moe.common import moe_params, moe_check, moe_cost
from blocks.registry import BlockType, register


register(
    BlockType(
        name="moe",
        family="moe",
        title="Mixture of experts (top-k)",
        description="GLaM/GShard-style MoE MLP: each token is mixed from its top-k experts, with "
        "causal per-sequence capacity and a load-balancing loss.",
        paper="Du et al. 2022, GLaM: Efficient Scaling of Language Models with Mixture-of-Experts; "
        "Lepikhin et al. 2021, GShard",
        params=moe_params(top_k_param=True),
        module="blocks.library.moe.common_nn.MixtureOfExperts",
        cost=moe_cost,
        complexity="O(L)",
        causal=True,
        recurrent=False,
        check=moe_check,
        tags=("sparse", "conditional-compute", "aux-loss"),
    )
)
