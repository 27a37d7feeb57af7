"""H3 (Hungry Hungry Hippos) (``h3``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.convolution.h3_nn.H3``, is imported only when a model is built."""
from __future__ import annotations

from blocks.library.convolution.common import fft_conv_flops_per_token
from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


H3_PARAMS = (
    Param("heads", "int", 0, "Heads; head_dim = d_model / heads and each head mixes head_dim^2 "
          "key-value channels (cost grows with head_dim). 0: d_model heads of head_dim 1, as the "
          "paper's reference (head_dim 1).", min=0, max=4096),
    Param("d_state", "int", 64, "State size N of the diagonal SSM (N/2 complex modes) and the "
          "length of the shift filter on K (the paper's 64). Even.", min=2, max=256),
)


def h3_heads(d_model: int, params: dict) -> int:
    """The number of heads: ``heads``, or d_model (head_dim 1) when it is 0."""
    return params["heads"] or d_model


def h3_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, heads, n = d_model, h3_heads(d_model, params), params["d_state"]
    p = max(1, d // heads)
    channels = heads * p * p  # key-value channels = d_model * head_dim
    count = 4 * (d * d + d) + d * n + heads * (2 * n + 2)  # 4 linears, shift taps, SSM (dt, A, C, D)
    # Kernel generation: heads * N/2 complex exponentials and products per position (~8 FLOPs each).
    kernel_flops = heads * (n // 2) * 8
    flops = (
        4 * (2 * d * d + d)  # q, k, v and out projections
        + 2 * n * d  # shift filter
        + channels  # outer product K_i V_j
        + channels * (fft_conv_flops_per_token(seq_len) + 2)  # diagonal SSM conv + D skip
        + 2 * channels  # contraction with Q
        + kernel_flops
    )
    # Kept per token: input, q, k (before and after shift), v, the p^2-channel kv tensor,
    # its spectra (~4 floats per channel) and SSM output, the head outputs.
    floats = 5 * d + channels * 6 + d
    return Cost(params=count, flops_per_token=float(flops), activation_bytes=float(seq_len * floats * BYTES_PER_FLOAT))


def h3_state(d_model: int, seq_len: int, params: dict) -> float:
    """Fixed: H3's long convolution is a diagonal SSM, so it decodes recurrently. The shift filter's
    window (d_state - 1 inputs per channel) and d_state/2 complex modes per key-value channel."""
    n, heads = params["d_state"], h3_heads(d_model, params)
    p = max(1, d_model // heads)
    return float((d_model * (n - 1) + heads * p * p * n) * BYTES_PER_FLOAT)


def h3_check(d_model: int, max_seq_len: int, params: dict):
    if d_model % h3_heads(d_model, params):
        yield "heads", f"heads ({params['heads']}) must divide d_model ({d_model})"
    if params["d_state"] % 2:
        yield "d_state", f"d_state ({params['d_state']}) must be even (complex conjugate pairs)"


register(
    BlockType(
        name="h3",
        family="convolution",
        title="H3 (Hungry Hungry Hippos)",
        description="Q * diagonal SSM(shift SSM(K) * V): two SSMs and multiplicative gates that "
        "recall and compare tokens, computed by FFT. Defaults are the reference's: head_dim 1 (heads 0 "
        "= d_model heads) and d_state 64, so the SSM runs over d_model key-value channels, not "
        "d_model * head_dim.",
        paper="Fu, Dao et al. 2023, Hungry Hungry Hippos: Towards Language Modeling with State Space Models",
        params=H3_PARAMS,
        module="blocks.library.convolution.h3_nn.H3",
        cost=h3_cost,
        state=h3_state,
        complexity="O(L log L)",
        causal=True,
        recurrent=True,
        check=h3_check,
        tags=("attention-free", "ssm", "fft"),
    )
)
