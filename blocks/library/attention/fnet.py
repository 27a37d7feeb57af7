"""FNet Fourier mixing (``fnet``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.attention.fnet_nn.FNetMixing``, is imported only when a model is built."""
from __future__ import annotations

import math

from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, register


def fnet_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    # A complex FFT of size n costs about 5·n·log2(n) flops; per token one FFT over D and
    # (amortised) one over L per channel.
    flops = 5.0 * d_model * (math.log2(max(d_model, 2)) + math.log2(max(seq_len, 2)))
    return Cost(0, flops, float(BYTES_PER_FLOAT * seq_len * d_model * 2))  # complex intermediate


def fnet_state(d_model: int, seq_len: int, p: dict) -> float:
    # No step form: every output mixes the whole sequence, so a decoder keeps every input.
    return float(BYTES_PER_FLOAT * seq_len * d_model)


def fnet_check(d_model: int, max_seq_len: int, p: dict):
    # No parameters; non-causality is the validator's business (model.allow_noncausal).
    return []


register(BlockType(
    name="fnet",
    family="attention",
    title="FNet Fourier mixing",
    description="Parameter-free token mixing by the real part of a 2-D FFT. NOT causal: it sees future tokens, so a "
                "causal language model refuses it unless the model allows non-causal blocks.",
    paper="Lee-Thorp et al. 2022, FNet: Mixing Tokens with Fourier Transforms",
    params=(),
    module="blocks.library.attention.fnet_nn.FNetMixing",
    cost=fnet_cost,
    state=fnet_state,
    complexity="O(L log L)",
    causal=False,
    check=fnet_check,
    tags=("fourier", "non-causal", "parameter-free"),
))
