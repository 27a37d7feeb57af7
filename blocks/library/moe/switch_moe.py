"""Switch MoE (top-1) (``switch_moe``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.moe.switch_moe_nn.build_switch_moe``, is imported only when a model is built."""
from __future__ import annotations

from blocks.library.moe.common import moe_params, moe_check, moe_cost
from blocks.registry import BlockType, register


register(
    BlockType(
        name="switch_moe",
        family="moe",
        title="Switch MoE (top-1)",
        description="Switch Transformer MLP: each token goes to its single best expert, with "
        "causal per-sequence capacity and a load-balancing loss.",
        paper="Fedus, Zoph & Shazeer 2021, Switch Transformers: Scaling to Trillion Parameter Models",
        params=moe_params(top_k_param=False),
        module="blocks.library.moe.switch_moe_nn.build_switch_moe",
        cost=moe_cost,
        complexity="O(L)",
        causal=True,
        recurrent=False,
        check=moe_check,
        tags=("sparse", "conditional-compute", "aux-loss"),
    )
)
