"""Functional ops: plain tensor functions with parallel and step-by-step recurrent forms.

The contract (DESIGN.md) names them as functions of the package: ``from blocks.ops import
selective_scan``. The package attributes ``selective_scan``, ``linear_attention`` and ``retention``
are therefore the functions, not the modules of the same names; reach a module itself with
``from blocks.ops.selective_scan import ...`` or ``importlib.import_module("blocks.ops.selective_scan")``
(``import blocks.ops.selective_scan as m`` would give the function).
"""
from blocks.ops.attention_masks import (
    bigbird_block_layout,
    bigbird_block_mask,
    bigbird_dense_mask,
    causal_dense_mask,
    sample_distinct,
    sliding_window_block_mask,
    sliding_window_dense_mask,
    strided_column_mask,
    strided_dense_mask,
)
from blocks.ops.delta_rule import (
    delta_rule_chunked,
    delta_rule_init_state,
    delta_rule_naive,
    delta_rule_recurrent,
    delta_rule_step,
)
from blocks.ops.diag_ssm import diag_ssm_init_state, diag_ssm_step, fft_causal_conv, zoh_kernel, zoh_step_params
from blocks.ops.gated_linear_attention import gla_chunked, gla_init_state, gla_naive, gla_recurrent, gla_step
from blocks.ops.linear_attention import (
    linear_attention,
    linear_attention_chunked,
    linear_attention_init_state,
    linear_attention_naive,
    linear_attention_recurrent,
    linear_attention_step,
)
from blocks.ops.retention import (
    retention,
    retention_chunkwise,
    retention_decays,
    retention_init_state,
    retention_recurrent,
    retention_step,
)
from blocks.ops.rnn_cells import gru, gru_naive, gru_step, lstm, lstm_naive, lstm_step
from blocks.ops.rotary import apply_rotary, rotary_cos_sin
from blocks.ops.selective_scan import selective_scan, selective_scan_ref, selective_scan_step
from blocks.ops.chunking import chunk_layout
from blocks.ops.ssd import ssd_chunked, ssd_init_state, ssd_naive, ssd_recurrent, ssd_step

__all__ = [
    "apply_rotary",
    "bigbird_block_layout",
    "bigbird_block_mask",
    "bigbird_dense_mask",
    "causal_dense_mask",
    "chunk_layout",
    "delta_rule_chunked",
    "delta_rule_init_state",
    "delta_rule_naive",
    "delta_rule_recurrent",
    "delta_rule_step",
    "diag_ssm_init_state",
    "diag_ssm_step",
    "fft_causal_conv",
    "gla_chunked",
    "gla_init_state",
    "gla_naive",
    "gla_recurrent",
    "gla_step",
    "gru",
    "gru_naive",
    "gru_step",
    "linear_attention",
    "linear_attention_chunked",
    "linear_attention_init_state",
    "linear_attention_naive",
    "linear_attention_recurrent",
    "linear_attention_step",
    "lstm",
    "lstm_naive",
    "lstm_step",
    "retention",
    "retention_chunkwise",
    "retention_decays",
    "retention_init_state",
    "retention_recurrent",
    "retention_step",
    "rotary_cos_sin",
    "sample_distinct",
    "selective_scan",
    "selective_scan_ref",
    "selective_scan_step",
    "sliding_window_block_mask",
    "sliding_window_dense_mask",
    "ssd_chunked",
    "ssd_init_state",
    "ssd_naive",
    "ssd_recurrent",
    "ssd_step",
    "strided_column_mask",
    "strided_dense_mask",
    "zoh_kernel",
    "zoh_step_params",
]
