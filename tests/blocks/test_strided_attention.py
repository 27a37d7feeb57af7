"""Strided sparse attention (Sparse Transformer, Child et al. 2019; issue 14 point 1): the blocked
computation equals a naive per-query loop over the paper's pattern and its dense-mask form, is
causal, steps like its forward, has finite gradients and exact parameter cost; the stride left
out is √max_seq_len."""
from __future__ import annotations

import math

import pytest
import torch

from blocks.ops.attention_masks import strided_dense_mask
from tests.blocks.block_checks import (
    assert_causal,
    assert_cost_params_exact,
    assert_finite_gradients,
    assert_step_matches_forward,
    build,
    check_fields,
    random_tokens,
)
from tests.blocks.test_paper_defaults import chosen

SETTINGS = [(4, 19, "rope"), (3, 32, "none"), (1, 7, "rope"), (8, 8, "rope"), (5, 3, "none"), (32, 19, "rope")]


def naive_strided(module, x: torch.Tensor) -> torch.Tensor:
    """One query at a time: softmax over {s <= t : t − s < stride or (t − s) % stride == 0}."""
    q, k, v = module.proj.qkv(x)  # (B, H, L, hd), rotated when position is rope
    out = torch.zeros_like(q)
    for t in range(x.shape[1]):
        keys = [s for s in range(t + 1) if t - s < module.stride or (t - s) % module.stride == 0]
        scores = torch.einsum("bhd,bhsd->bhs", q[:, :, t], k[:, :, keys]) / math.sqrt(q.shape[-1])
        out[:, :, t] = torch.einsum("bhs,bhsd->bhd", scores.softmax(-1), v[:, :, keys])
    return module.proj.out(out)


@pytest.mark.parametrize("stride, length, position", SETTINGS)
def test_strided_attention_equals_a_per_query_loop_of_the_pattern(stride, length, position):
    module = build("strided_attention", heads=2, stride=stride, position=position)
    x = random_tokens(length=length)
    with torch.no_grad():
        torch.testing.assert_close(module(x), naive_strided(module, x), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(module(x), module.dense_reference(x), atol=1e-5, rtol=1e-5)


def test_strided_mask_is_the_papers_pattern():
    mask = strided_dense_mask(10, 3)
    assert mask[9].nonzero().flatten().tolist() == [0, 3, 6, 7, 8, 9]  # 9−0, 9−3, 9−6 strided; 7..9 local
    assert not mask.triu(1).any()


def test_strided_attention_ignores_what_the_pattern_leaves_out():
    module = build("strided_attention", heads=2, stride=4)
    x = random_tokens(length=16)
    x2 = x.clone()
    x2[:, [1, 2, 5, 6, 9, 10]] += 3.0  # t = 15 sees 12..15 and 11, 7, 3 only
    with torch.no_grad():
        torch.testing.assert_close(module(x2)[:, 15], module(x)[:, 15], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("stride, length, position", SETTINGS)
def test_strided_attention_block_checks(stride, length, position):
    module = build("strided_attention", heads=2, stride=stride, position=position)
    x = random_tokens(length=max(length, 8))
    assert_causal(module, x)
    assert_step_matches_forward(module, x)
    assert_finite_gradients(module, x)
    assert_cost_params_exact("strided_attention", 16, {"heads": 2, "stride": stride})


def test_strided_attention_checks_stride_and_heads():
    assert check_fields("strided_attention", 16, 32, {"stride": 33}) == ["stride"]
    assert check_fields("strided_attention", 16, 32, {"heads": 16}) == ["heads"]  # head size 1: no rotary


@pytest.mark.parametrize("length, stride", [(8, 2), (64, 8), (1024, 32), (4096, 64), (16384, 128)])
def test_stride_left_out_is_the_square_root_of_the_context(length, stride):
    assert chosen("strided_attention", 64, length)["stride"] == stride
