"""Short convolution (``short_conv``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.convolution.short_conv_nn.ShortConv``, is imported only when a model is built."""
from __future__ import annotations

from blocks.library.convolution.common import fits_sequence
from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


SHORT_CONV_PARAMS = (
    Param("kernel_size", "int", 4, "Tokens each output sees: this one and kernel_size - 1 before it.", min=1, max=64),
    Param("gated", "bool", False, "Gate the convolution with a linear projection of the input and project "
          "the product back (BaseConv).", ),
)


def short_conv_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, k = d_model, params["kernel_size"]
    count, flops, floats = d * k + d, 2 * d * k, 2 * d
    if params["gated"]:
        count += 2 * (d * d + d)
        flops += 2 * (2 * d * d) + d
        floats += 2 * d
    return Cost(params=count, flops_per_token=float(flops), activation_bytes=float(seq_len * floats * BYTES_PER_FLOAT))


def short_conv_state(d_model: int, seq_len: int, params: dict) -> float:
    return float(d_model * (params["kernel_size"] - 1) * BYTES_PER_FLOAT)


register(
    BlockType(
        name="short_conv",
        family="convolution",
        title="Short convolution",
        description="A causal depthwise convolution over the last few tokens (a learned token shift), "
        "optionally gated as BaseConv; gives the next layer the previous tokens for free.",
        paper="Arora et al. 2023, Zoology: Measuring and Improving Recall in Efficient Language Models (BaseConv)",
        params=SHORT_CONV_PARAMS,
        module="blocks.library.convolution.short_conv_nn.ShortConv",
        cost=short_conv_cost,
        state=short_conv_state,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        check=fits_sequence("kernel_size"),
        tags=("convolution", "token-shift", "linear-time"),
    )
)
