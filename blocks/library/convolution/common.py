"""Cost arithmetic and the sequence-length check the convolution entries share; plain Python."""
from __future__ import annotations

import math


def fft_conv_flops_per_token(seq_len: int) -> float:
    """FLOPs per token per channel of an FFT causal convolution at length L.

    Three real FFTs of size n = 2L (input, kernel, inverse) at ~2.5 n log2 n each, plus
    the complex product of L+1 frequencies (6 FLOPs each), spread over the L tokens.
    """
    n = 2 * seq_len
    return (3 * 2.5 * n * math.log2(n) + 6 * (seq_len + 1)) / seq_len


def fits_sequence(param: str):
    """The registry check of a block whose ``param`` counts tokens: at most max_seq_len of them."""
    def check(d_model: int, max_seq_len: int, params: dict):
        if params[param] > max_seq_len:
            yield param, f"{param} ({params[param]}) must be <= max_seq_len ({max_seq_len})"

    return check
