"""The recurrent blocks (retnet, rwkv): causal, step-by-step equals forward, exact parameter cost."""
import math

import pytest
import torch

from blocks.library.recurrent import RWKV, RetNet, wkv_chunked, wkv_step
from blocks.registry import get_block
from tests.blocks.block_checks import (
    TOL,
    assert_causal,
    assert_cost_params_exact,
    assert_finite_gradients,
    assert_step_matches_forward,
    build,
    check_fields,
    random_tokens,
)

RECURRENT_CONFIGS = [
    ("retnet", {}),
    ("retnet", {"heads": 2, "value_factor": 1, "chunk_size": 4}),  # chunkwise, 4 does not divide 13
    ("retnet", {"rotary": False, "chunk_size": 13}),
    ("rwkv", {}),
    ("rwkv", {"ffn_mult": 1}),
]


@pytest.mark.parametrize("name,given", RECURRENT_CONFIGS)
def test_recurrent_block_keeps_shape_and_is_causal(name, given):
    module = build(name, **given)
    x = random_tokens(length=13)
    assert module(x).shape == x.shape
    assert_causal(module, x, t=6)


@pytest.mark.parametrize("name,given", RECURRENT_CONFIGS)
def test_recurrent_block_step_by_step_equals_forward(name, given):
    assert_step_matches_forward(build(name, **given), random_tokens(length=13))


@pytest.mark.parametrize("name,given", RECURRENT_CONFIGS)
def test_recurrent_block_gradients_are_finite(name, given):
    assert_finite_gradients(build(name, **given), random_tokens(length=13))


@pytest.mark.parametrize(
    "name,d_model,given",
    [
        ("retnet", 16, {}),
        ("retnet", 24, {"heads": 3, "value_factor": 1}),
        ("retnet", 32, {"heads": 8, "value_factor": 3, "rotary": False}),
        ("rwkv", 8, {}),
        ("rwkv", 20, {"ffn_mult": 3}),
    ],
)
def test_cost_params_equal_the_built_module(name, d_model, given):
    assert_cost_params_exact(name, d_model, given)


def test_retnet_parallel_and_chunkwise_forms_agree_inside_the_block():
    x = random_tokens(length=19)
    parallel = build("retnet", chunk_size=64)
    chunked = build("retnet", chunk_size=5)  # same seed, same weights, L > chunk: chunkwise form
    with torch.no_grad():
        torch.testing.assert_close(chunked(x), parallel(x), atol=TOL, rtol=TOL)


def test_retnet_rotary_changes_the_output():
    x = random_tokens(length=9)
    with torch.no_grad():
        with_rotary, without = build("retnet", rotary=True)(x), build("retnet", rotary=False)(x)
    assert not torch.allclose(with_rotary, without, atol=1e-4)


def test_retnet_state_advances_its_position():
    module = build("retnet")
    state = module.init_state(2, None, torch.float32)
    _, (memory, position) = module.step(random_tokens(length=1)[:, 0], state)
    assert int(position) == 1 and memory.shape == (2, 4, 4, 8)


def _naive_wkv(decay, bonus, k, v):
    """RWKV-4's WKV from its definition (no stabilisation), in float64."""
    k, v, decay, bonus = (t.double() for t in (k, v, decay, bonus))
    out = torch.zeros_like(v)
    for t in range(k.shape[1]):
        num = torch.exp(bonus + k[:, t]) * v[:, t]
        den = torch.exp(bonus + k[:, t])
        for i in range(t):
            weight = torch.exp(-(t - 1 - i) * decay + k[:, i])
            num, den = num + weight * v[:, i], den + weight
        out[:, t] = num / den
    return out


def _empty_wkv_state(batch, width):
    zeros = torch.zeros(batch, width)
    return zeros, zeros, torch.full_like(zeros, -1e38)


def test_chunked_wkv_and_wkv_step_equal_the_definition():
    g = torch.Generator().manual_seed(0)
    k, v = torch.randn(2, 11, 5, generator=g), torch.randn(2, 11, 5, generator=g)
    decay, bonus = torch.rand(5, generator=g) + 0.05, torch.randn(5, generator=g)
    expected = _naive_wkv(decay, bonus, k, v).float()
    chunked, _ = wkv_chunked(decay, bonus, k, v, _empty_wkv_state(2, 5), chunk_size=4)
    torch.testing.assert_close(chunked, expected, atol=TOL, rtol=TOL)
    state, stepped = _empty_wkv_state(2, 5), []
    for t in range(11):
        out, state = wkv_step(decay, bonus, k[:, t], v[:, t], state)
        stepped.append(out)
    torch.testing.assert_close(torch.stack(stepped, 1), expected, atol=TOL, rtol=TOL)


def _grads(fn, *inputs):
    inputs = [t.detach().clone().requires_grad_(True) for t in inputs]
    out = fn(*inputs)
    weights = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)  # every output counts differently
    (out * weights).sum().backward()
    return out.detach(), [t.grad for t in inputs]


def test_chunked_wkv_gradients_equal_the_step_loops():
    g = torch.Generator().manual_seed(1)
    k, v = torch.randn(2, 23, 5, generator=g), torch.randn(2, 23, 5, generator=g)
    decay, bonus = torch.rand(5, generator=g) + 0.05, torch.randn(5, generator=g)

    def chunked(decay, bonus, k, v):
        return wkv_chunked(decay, bonus, k, v, _empty_wkv_state(2, 5), chunk_size=4)[0]

    def stepped(decay, bonus, k, v):
        state, outs = _empty_wkv_state(2, 5), []
        for t in range(k.shape[1]):
            out, state = wkv_step(decay, bonus, k[:, t], v[:, t], state)
            outs.append(out)
        return torch.stack(outs, 1)

    out_a, grads_a = _grads(chunked, decay, bonus, k, v)
    out_b, grads_b = _grads(stepped, decay, bonus, k, v)
    torch.testing.assert_close(out_a, out_b, atol=TOL, rtol=TOL)
    for name, a, b in zip(("decay", "bonus", "k", "v"), grads_a, grads_b):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4, msg=lambda m, name=name: f"d{name}: {m}")


def test_chunkwise_retention_gradients_equal_the_parallel_form():
    from blocks.ops.retention import retention, retention_chunkwise

    g = torch.Generator().manual_seed(2)
    q, k, v = (torch.randn(2, 21, 3, 4, generator=g) for _ in range(3))
    out_a, grads_a = _grads(lambda q, k, v: retention_chunkwise(q, k, v, 5), q, k, v)
    out_b, grads_b = _grads(retention, q, k, v)
    torch.testing.assert_close(out_a, out_b, atol=TOL, rtol=TOL)
    for a, b in zip(grads_a, grads_b):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_wkv_is_stable_where_the_naive_formula_overflows():
    """Keys near 200 overflow e^k in float32; WKV is invariant to shifting every key by a
    constant, so the float64 definition at k - 200 is the exact answer."""
    g = torch.Generator().manual_seed(3)
    k = torch.randn(1, 9, 3, generator=g) * 5 + 200.0
    v = torch.randn(1, 9, 3, generator=g)
    decay, bonus = torch.tensor([0.01, 0.5, 4.0]), torch.tensor([0.0, 1.0, -1.0])
    expected = _naive_wkv(decay, bonus, k.double() - 200.0, v).float()
    out, state = wkv_chunked(decay, bonus, k, v, _empty_wkv_state(1, 3), chunk_size=4)
    assert all(torch.isfinite(s).all() for s in state)
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)


def test_rwkv_init_spreads_decays_across_channels():
    module = build("rwkv", d_model=16)
    decay = module.time_mix.time_decay
    assert decay[0].item() == pytest.approx(-5.0) and decay[-1].item() == pytest.approx(3.0)
    assert (decay[1:] > decay[:-1]).all()
    assert module.time_mix.time_first.mean().item() == pytest.approx(math.log(0.3), abs=0.2)


def test_check_reports_cross_field_problems():
    assert check_fields("retnet", 16, 32, {"heads": 3}) == ["heads"]
    assert check_fields("retnet", 18, 32, {"heads": 2, "rotary": True}) == ["rotary"]
    assert check_fields("retnet", 18, 32, {"heads": 2, "rotary": False}) == []
    assert check_fields("retnet", 16, 32, {}) == []


@pytest.mark.parametrize("name", ["retnet", "rwkv"])
def test_registry_entry_describes_the_block(name):
    entry = get_block(name)
    assert entry.family == "recurrent" and entry.causal is True and entry.recurrent is True
    assert entry.paper and entry.description and entry.complexity == "O(L)"
    assert entry.build in (RetNet, RWKV)
    for param in entry.params:
        assert param.help and param.check(param.default) is None


def test_constructors_refuse_bad_arguments_with_a_message():
    with pytest.raises(AssertionError, match="divide"):
        RetNet(16, max_seq_len=32, heads=3)
    with pytest.raises(AssertionError, match="even"):
        RetNet(18, max_seq_len=32, heads=2, rotary=True)
    with pytest.raises(AssertionError, match="ffn_mult"):
        RWKV(16, max_seq_len=32, ffn_mult=0)


@pytest.mark.parametrize("name", ["retnet", "rwkv"])
def test_flops_per_token_are_constant_past_one_chunk(name):
    """O(L): past one chunk a token's cost no longer depends on the sequence length."""
    entry = get_block(name)
    params = entry.defaults()
    at_512, at_4096 = entry.cost(32, 512, params), entry.cost(32, 4096, params)
    assert at_512.flops_per_token == at_4096.flops_per_token
    assert at_4096.activation_bytes == pytest.approx(8 * at_512.activation_bytes)
