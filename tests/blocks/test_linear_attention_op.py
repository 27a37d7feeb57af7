"""The linear_attention op: chunked == quadratic reference == recurrent loop, causality, gradients."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import torch

from blocks.ops.linear_attention import (
    linear_attention,
    linear_attention_chunked,
    linear_attention_naive,
    linear_attention_recurrent,
    linear_attention_step,
)

B, L, H, DK, DV = 2, 19, 2, 8, 6


def make_qkv(positive: bool, seed: int = 0, length: int = L):
    g = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(B, length, H, DK, generator=g) for _ in range(2))
    v = torch.randn(B, length, H, DV, generator=g)
    if positive:  # the normalised form is meant for non-negative feature maps (elu + 1)
        q, k = torch.nn.functional.elu(q) + 1, torch.nn.functional.elu(k) + 1
    return q, k, v


@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("chunk_size", [1, 4, 5, 7, 19, 64])
def test_chunked_equals_quadratic_reference_and_recurrent_loop(normalize, chunk_size):
    q, k, v = make_qkv(positive=normalize)
    reference = linear_attention_naive(q, k, v, normalize=normalize)
    chunked = linear_attention_chunked(q, k, v, normalize=normalize, chunk_size=chunk_size)
    recurrent = linear_attention_recurrent(q, k, v, normalize=normalize)
    assert chunked.shape == (B, L, H, DV)
    torch.testing.assert_close(chunked, reference, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(recurrent, reference, atol=1e-5, rtol=1e-5)


def test_default_entry_point_uses_default_scale_and_matches_reference_on_long_input():
    q, k, v = make_qkv(positive=False, length=150)  # longer than the default chunk of 64
    torch.testing.assert_close(linear_attention(q, k, v), linear_attention_naive(q, k, v), atol=1e-4, rtol=1e-5)
    # scale defaults to key_dim ** -0.5: passing it explicitly changes nothing, passing 1.0 does.
    torch.testing.assert_close(linear_attention(q, k, v), linear_attention(q, k, v, scale=DK ** -0.5))
    assert not torch.allclose(linear_attention(q, k, v), linear_attention(q, k, v, scale=1.0))


def test_first_output_is_the_scaled_outer_product_of_the_first_token():
    q, k, v = make_qkv(positive=False)
    out = linear_attention(q, k, v, scale=0.5)
    expected = 0.5 * (q[:, 0] * k[:, 0]).sum(-1, keepdim=True) * v[:, 0]  # (B, H, DV)
    torch.testing.assert_close(out[:, 0], expected)
    # normalised, one key: the output is exactly that key's value
    torch.testing.assert_close(linear_attention(*make_qkv(True), normalize=True)[:, 0], make_qkv(True)[2][:, 0],
                               atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("normalize", [False, True])
def test_perturbing_future_positions_leaves_past_outputs_unchanged(normalize):
    q, k, v = make_qkv(positive=normalize)
    t = 8
    q2, k2, v2 = q.clone(), k.clone(), v.clone()
    k2[:, t + 1:] += 1.0
    v2[:, t + 1:] -= 2.0
    q2[:, t + 1:] *= 3.0
    a = linear_attention_chunked(q, k, v, normalize=normalize, chunk_size=4)
    b = linear_attention_chunked(q2, k2, v2, normalize=normalize, chunk_size=4)
    assert torch.allclose(a[:, : t + 1], b[:, : t + 1], atol=1e-6)
    assert not torch.allclose(a[:, t + 1:], b[:, t + 1:], atol=1e-3)


def test_step_does_not_modify_the_given_state_and_accepts_none():
    q, k, v = make_qkv(positive=True)
    o0, state = linear_attention_step(q[:, 0], k[:, 0], v[:, 0], None, normalize=True)
    saved = [s.clone() for s in state]
    linear_attention_step(q[:, 1], k[:, 1], v[:, 1], state, normalize=True)
    for before, after in zip(saved, state):
        assert torch.equal(before, after)
    assert o0.shape == (B, H, DV)


@pytest.mark.parametrize("normalize", [False, True])
def test_gradients_are_finite_and_match_reference(normalize):
    q, k, v = (t.requires_grad_() for t in make_qkv(positive=normalize))
    linear_attention_chunked(q, k, v, normalize=normalize, chunk_size=5).square().sum().backward()
    grads = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    linear_attention_naive(q, k, v, normalize=normalize).square().sum().backward()
    for g, t in zip(grads, (q, k, v)):
        assert torch.isfinite(g).all()
        torch.testing.assert_close(g, t.grad, atol=1e-4, rtol=1e-4)


def test_rejects_mismatched_shapes():
    q, k, v = make_qkv(positive=False)
    with pytest.raises(AssertionError, match="same shape"):
        linear_attention(q, k[:, :-1], v)
    with pytest.raises(AssertionError, match="v must be"):
        linear_attention(q, k, v[:, :-1])


@settings(max_examples=25, deadline=None)
@given(
    length=st.integers(1, 24),
    chunk_size=st.integers(1, 30),
    key_dim=st.integers(1, 5),
    value_dim=st.integers(1, 5),
    normalize=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_chunked_matches_reference_for_any_shape(length, chunk_size, key_dim, value_dim, normalize, seed):
    g = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(1, length, 2, key_dim, generator=g) for _ in range(2))
    v = torch.randn(1, length, 2, value_dim, generator=g)
    if normalize:
        q, k = q.exp(), k.exp()  # any positive feature map
    expected = linear_attention_naive(q, k, v, normalize=normalize)
    torch.testing.assert_close(linear_attention_chunked(q, k, v, normalize=normalize, chunk_size=chunk_size),
                               expected, atol=1e-5, rtol=1e-5)
