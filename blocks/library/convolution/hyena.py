"""Hyena (``hyena``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.convolution.hyena_nn.Hyena``, is imported only when a model is built."""
from __future__ import annotations

from blocks.library.convolution.common import fft_conv_flops_per_token, fits_sequence
from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


HYENA_PARAMS = (
    Param("order", "int", 2, "Number of gates; order N uses N-1 long convolutions.", min=2, max=3),
    Param("filter_order", "int", 64, "Width of the FFN that generates the implicit long filter.", min=4, max=512),
    Param("short_filter", "int", 3, "Kernel size of the short causal depthwise conv after the in-projection.",
          min=1, max=16),
    Param("filter_bands", "int", 8, "Sine/cosine frequencies in the filter's positional features.", min=1, max=64),
)


def hyena_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, n, width = d_model, params["order"], params["filter_order"]
    k, emb = params["short_filter"], 1 + 2 * params["filter_bands"]
    inner, channels = (n + 1) * d, (n - 1) * d
    ffn_params = (emb * width + width) + 2 * (width * width + width) + width * channels + 3 * width  # + Sin freqs
    count = (d * inner + inner) + (inner * k + inner) + ffn_params + channels + (d * d + d)
    # The filter is generated once per sequence; one filter tap per channel per position.
    filter_flops = 2 * (emb * width + 2 * width * width + width * channels) + 3 * 2 * width + 3 * channels
    flops = (
        2 * d * inner + inner  # in_proj
        + 2 * k * inner  # short conv
        + filter_flops
        + channels * (fft_conv_flops_per_token(seq_len) + 2)  # long convs + D skip
        + n * d  # gates
        + 2 * d * d + d  # out_proj
    )
    # Kept per token: input, projection and short-conv outputs, per long conv its gated
    # input, two complex spectra of length ~L+1 (≈4 floats per tap) and output, the final
    # product; the filter FFN's hidden tensors (pre- and post-Sin) and the raw/windowed taps.
    floats = d + 2 * inner + channels * 6 + 2 * d + emb + 6 * width + 2 * channels
    return Cost(params=count, flops_per_token=float(flops), activation_bytes=float(seq_len * floats * BYTES_PER_FLOAT))


def hyena_state(d_model: int, seq_len: int, params: dict) -> float:
    """No recurrent form: the implicit filters are as long as the sequence, so exact decoding keeps
    the whole input history of each of the order - 1 long convolutions (grows with L), plus the
    short conv's window of short_filter - 1 inputs."""
    n, k = params["order"], params["short_filter"]
    return float(((n - 1) * d_model * seq_len + (n + 1) * d_model * (k - 1)) * BYTES_PER_FLOAT)


register(
    BlockType(
        name="hyena",
        family="convolution",
        title="Hyena",
        description="Gated implicit long convolutions: an FFN over positions generates filters as long "
        "as the sequence, applied by FFT between data-controlled gates.",
        paper="Poli et al. 2023, Hyena Hierarchy: Towards Larger Convolutional Language Models",
        params=HYENA_PARAMS,
        module="blocks.library.convolution.hyena_nn.Hyena",
        cost=hyena_cost,
        state=hyena_state,
        complexity="O(L log L)",
        causal=True,
        recurrent=False,
        check=fits_sequence("short_filter"),
        tags=("attention-free", "long-convolution", "fft"),
    )
)
