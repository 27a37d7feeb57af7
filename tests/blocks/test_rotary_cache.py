"""RoPE's cos/sin table kept between forwards (issue 14, point 6): same rotation as the
uncached formula, reused across forwards, rebuilt for a longer length or another dtype,
never part of the state dict."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from blocks.library.attention.common_nn import rope
from blocks.ops.rotary import RotaryTable, rotary_cos_sin
from tests.blocks.test_attention import build


def test_table_rows_equal_the_uncached_formula():
    table = RotaryTable(8)
    for length in (5, 12, 3):  # build, grow, slice a shorter prefix
        cos, sin = table.cos_sin(length, "cpu", torch.float32)
        ref_cos, ref_sin = rotary_cos_sin(torch.arange(length), 8, dtype=torch.float32)
        assert torch.equal(cos, ref_cos) and torch.equal(sin, ref_sin)


def test_table_is_reused_and_rebuilt_for_longer_length_or_other_dtype():
    table = RotaryTable(8)
    cos16, _ = table.cos_sin(16, "cpu", torch.float32)
    cos8, _ = table.cos_sin(8, "cpu", torch.float32)
    assert cos8.data_ptr() == cos16.data_ptr()  # a view of the kept table, nothing recomputed
    cos32, _ = table.cos_sin(32, "cpu", torch.float32)
    assert cos32.shape[0] == 32 and cos32.data_ptr() != cos16.data_ptr()
    cos_d, _ = table.cos_sin(8, "cpu", torch.float64)
    assert cos_d.dtype == torch.float64 and len(table.tables) == 2


def test_softmax_attention_with_cache_equals_uncached_rope_and_keeps_state_dict_keys():
    torch.manual_seed(0)
    module = build("softmax_attention", {"heads": 2})
    keys_before = set(module.state_dict())
    plain = build("softmax_attention", {"heads": 2, "position": "none"})  # the same weights, no rotation
    plain.load_state_dict(module.state_dict())
    for length in (6, 16, 9):
        x = torch.randn(2, length, 16)
        q, k, v = plain.proj.qkv(x)
        positions = torch.arange(length)
        q, k = rope(q, positions), rope(k, positions)
        expected = module.proj.out(F.scaled_dot_product_attention(q, k, v, is_causal=True))
        assert torch.equal(module(x), expected)
    assert set(module.state_dict()) == keys_before
    assert len(module.proj.rotary.tables) == 1 and module.proj.rotary.tables[(torch.device("cpu"), torch.float32)][0].shape[0] == 16
