"""Norm (``norm``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.structural.norm_nn.build_norm``, is imported only when a model is built."""
from __future__ import annotations

from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


NORM_KINDS = ("rmsnorm", "layernorm")


def norm_param_count(kind: str, d_model: int) -> int:
    return d_model if kind == "rmsnorm" else 2 * d_model


NORM_FLOPS_PER_FEATURE = 5  # square, mean, rsqrt-scale, weight (and bias): a few ops per feature


def _norm_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    return Cost(
        norm_param_count(params["kind"], d_model),
        float(NORM_FLOPS_PER_FEATURE * d_model),
        float(seq_len * d_model * BYTES_PER_FLOAT),
    )


register(
    BlockType(
        name="norm",
        family="structural",
        title="Norm",
        description="An explicit normalisation layer (blocks are already pre-normed; use for post-norm designs).",
        paper="Zhang & Sennrich 2019, Root Mean Square Layer Normalization; Ba et al. 2016, Layer Normalization",
        params=(
            Param("kind", "choice", "rmsnorm", "RMSNorm or LayerNorm.", choices=NORM_KINDS),
        ),
        module="blocks.library.structural.norm_nn.build_norm",
        cost=_norm_cost,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        residual=False,
        structural=True,
        tags=("norm",),
    )
)
