"""RWKV-4 (``rwkv``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.recurrent.rwkv_nn.RWKV``, is imported only when a model is built."""
from __future__ import annotations

from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


# --------------------------------------------------------------------------- RWKV-4

_WKV_CHUNK = 16  # positions scored together in the parallel WKV; the state hands over between chunks


def rwkv_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, hidden = d_model, params["ffn_mult"] * d_model
    layer_norms = 2 * 2 * d  # ln1, ln2 (weight and bias): the block owns them (residual=False)
    n_params = layer_norms + 5 * d + 4 * d * d + (2 * d + 2 * d * hidden + d * d)
    matmuls = 2 * (4 * d * d + 2 * d * hidden + d * d)
    chunk = min(seq_len, _WKV_CHUNK)
    # Two layer norms (5 flops a feature), two residual adds, token-shift mixes (5 x 3 flops),
    # chunked WKV (~8 flops per (query, key) pair in a chunk plus the state hand-over), sigmoids,
    # squared ReLU and gates.
    flops = matmuls + 2 * 5 * d + 2 * d + 15 * d + 8 * chunk * d + 20 * d + 3 * hidden
    # Kept per token: both norms (2 x 2D), mixes (5D), k, v, r, wkv (4D), hidden (2F), gates (2D),
    # and the per-chunk (T, D) weight rows of the WKV.
    per_token = 4 * d + 5 * d + 4 * d + 2 * hidden + 2 * d + 2 * chunk * d
    return Cost(n_params, float(flops), float(seq_len * per_token * BYTES_PER_FLOAT))


def rwkv_state(d_model: int, seq_len: int, params: dict) -> float:
    # The previous inputs of time-mix and channel-mix and the WKV (num, den, max_log): 5 x d_model.
    return float(5 * d_model * BYTES_PER_FLOAT)


register(
    BlockType(
        name="rwkv",
        family="recurrent",
        title="RWKV-4",
        description="RWKV-4 layer, both residual branches: x + time_mix(ln1 x), then + channel_mix(ln2 x) "
        "on the stream after time mixing. Time mix: token shift and a per-channel decaying WKV "
        "recurrence (computed stably in log space); channel mix: squared ReLU. Owns its two LayerNorms "
        "(no model pre-norm); decays and mixes start from RWKV-4's per-layer schedule (layer depth / "
        "number of layers).",
        paper="Peng et al. RWKV: Reinventing RNNs for the Transformer Era. EMNLP Findings 2023. "
        "arXiv:2305.13048",
        params=(Param("ffn_mult", "int", 4, "channel-mix hidden width = ffn_mult * d_model", min=1, max=8),),
        module="blocks.library.recurrent.rwkv_nn.RWKV",
        cost=rwkv_cost,
        state=rwkv_state,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        residual=False,  # x + att(ln1 x), then + ffn(ln2 x): two branches, inside the block
        check=None,
        tags=("rnn", "linear-time"),
    )
)
