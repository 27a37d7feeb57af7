"""Merge (``merge``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.structural.merge_nn.build_merge``, is imported only when a model is built."""
from __future__ import annotations

from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


MERGE_MODES = ("sum", "mean", "gated", "concat")


# Merge's builder and cost receive the in-degree under this key; blocks.spec supplies it
# from the edges, so it is not a user-facing param.
MERGE_INPUTS_KEY = "num_inputs"


def _merge_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    k = int(params.get(MERGE_INPUTS_KEY, 2))
    mode = params["mode"]
    if mode == "gated":
        n_params, flops = k * d_model * k + k, 2.0 * k * d_model * k + 3.0 * k * d_model
    elif mode == "concat":
        n_params, flops = k * d_model * d_model + d_model, 2.0 * k * d_model * d_model
    else:
        n_params, flops = 0, float(k * d_model)
    kept = (k + 1) * d_model if mode in ("gated", "concat") else d_model
    return Cost(n_params, flops, float(seq_len * kept * BYTES_PER_FLOAT))


register(
    BlockType(
        name="merge",
        family="structural",
        title="Merge",
        description="Where several edges meet: sum, mean, softmax-gated sum, or concatenate-then-project.",
        paper="Hybrid layouts as in Lieber et al. 2024, Jamba; Dong et al. 2024, Hymba (parallel heads)",
        params=(
            Param("mode", "choice", "sum", "How the inputs are combined.", choices=MERGE_MODES),
        ),
        module="blocks.library.structural.merge_nn.build_merge",
        cost=_merge_cost,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        residual=False,
        structural=True,
        many_inputs=True,
        tags=("combine",),
    )
)
