"""The ssm blocks (s4d, mamba): causal, step-by-step equals forward, exact parameter cost."""
import pytest
import torch

from blocks.library.ssm.mamba import mamba_dt_rank
from blocks.library.ssm.mamba_nn import Mamba
from blocks.library.ssm.s4d_nn import S4D
from blocks.registry import get_block
from tests.blocks.block_checks import (
    assert_causal,
    assert_cost_params_exact,
    assert_finite_gradients,
    assert_step_matches_forward,
    build,
    check_fields,
    random_tokens,
)

SSM_CONFIGS = [
    ("s4d", {}),
    ("s4d", {"d_state": 4, "dt_min": 0.01, "dt_max": 0.5}),
    ("mamba", {}),
    ("mamba", {"d_state": 4, "d_conv": 2, "expand": 1, "dt_rank": 3}),
]


@pytest.mark.parametrize("name,given", SSM_CONFIGS)
def test_ssm_block_keeps_shape_and_is_causal(name, given):
    module = build(name, **given)
    x = random_tokens()
    assert module(x).shape == x.shape
    assert_causal(module, x)


@pytest.mark.parametrize("name,given", SSM_CONFIGS)
def test_ssm_block_step_by_step_equals_forward(name, given):
    assert_step_matches_forward(build(name, **given), random_tokens(length=13))


@pytest.mark.parametrize("name,given", SSM_CONFIGS)
def test_ssm_block_gradients_are_finite(name, given):
    assert_finite_gradients(build(name, **given), random_tokens())


@pytest.mark.parametrize(
    "name,d_model,given",
    [
        ("s4d", 8, {}),
        ("s4d", 24, {"d_state": 10}),
        ("mamba", 8, {}),
        ("mamba", 40, {"d_state": 7, "d_conv": 3, "expand": 3}),
        ("mamba", 16, {"dt_rank": 5}),
    ],
)
def test_cost_params_equal_the_built_module(name, d_model, given):
    assert_cost_params_exact(name, d_model, given)


def test_same_seed_builds_same_weights_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a, b, c = build("mamba", seed=7), build("mamba", seed=7), build("mamba", seed=8)
    assert torch.equal(torch.rand(1), before), "building a block consumed the global RNG"
    assert torch.equal(a.in_proj.weight, b.in_proj.weight)
    assert not torch.equal(a.in_proj.weight, c.in_proj.weight)


def test_s4d_kernel_convolution_equals_its_recurrence_over_a_long_sequence():
    module = build("s4d", d_state=8)
    x = random_tokens(batch=1, length=40)
    assert_step_matches_forward(module, x)
    assert module.kernel(40).shape == (16, 40)


def test_s4d_uses_s4d_lin_initialisation():
    module = build("s4d", d_state=8, dt_min=0.01, dt_max=0.02)
    A = -torch.exp(module.A_real_log) + 1j * module.A_imag
    torch.testing.assert_close(A.real, torch.full((16, 4), -0.5))
    torch.testing.assert_close(A.imag[0], torch.pi * torch.arange(4).float())
    dt = torch.exp(module.log_dt)
    assert (dt >= 0.01 - 1e-7).all() and (dt <= 0.02 + 1e-7).all()


def test_mamba_gradients_equal_those_through_the_per_step_scan(monkeypatch):
    """The chunked scan's own backward, inside the block, gives the per-step loop's gradients."""
    import blocks.library.ssm.mamba_nn as ssm
    from blocks.ops.selective_scan import selective_scan_ref

    x = random_tokens(length=37)
    grads = []
    for scan in (ssm.selective_scan, selective_scan_ref):
        monkeypatch.setattr(ssm, "selective_scan", scan)
        module, inputs = build("mamba"), x.clone().requires_grad_(True)
        module(inputs).square().mean().backward()
        grads.append([inputs.grad] + [p.grad for p in module.parameters()])
    for fast, ref in zip(*grads):
        torch.testing.assert_close(fast, ref, atol=1e-5, rtol=1e-4)


def test_mamba_dt_rank_auto_is_ceil_of_d_model_over_16():
    assert mamba_dt_rank(16, 0) == 1 and mamba_dt_rank(17, 0) == 2 and mamba_dt_rank(64, 5) == 5
    assert build("mamba", d_model=33).dt_proj.weight.shape == (66, 3)


def test_mamba_initial_dt_lies_in_its_range():
    module = build("mamba")
    dt = torch.nn.functional.softplus(module.dt_proj.bias)
    assert (dt >= 0.001 - 1e-6).all() and (dt <= 0.1 + 1e-6).all()


def test_check_reports_cross_field_problems():
    assert check_fields("s4d", 16, 32, {"d_state": 7}) == ["d_state"]
    assert check_fields("s4d", 16, 32, {"dt_min": 0.5, "dt_max": 0.1}) == ["dt_min"]
    assert check_fields("s4d", 16, 32, {}) == []
    assert check_fields("mamba", 16, 8, {"d_conv": 9}) == ["d_conv"]
    assert check_fields("mamba", 8, 32, {"dt_rank": 17, "expand": 2}) == ["dt_rank"]
    assert check_fields("mamba", 16, 32, {}) == []


@pytest.mark.parametrize("name", ["s4d", "mamba"])
def test_registry_entry_describes_the_block(name):
    entry = get_block(name)
    assert entry.family == "ssm" and entry.causal is True and entry.recurrent is True
    assert entry.paper and entry.description and entry.complexity.startswith("O(")
    assert entry.module_class() in (S4D, Mamba)
    for param in entry.params:
        assert param.help and param.check(param.default) is None


def test_constructors_refuse_bad_arguments_with_a_message():
    with pytest.raises(AssertionError, match="even"):
        S4D(16, max_seq_len=32, d_state=5)
    with pytest.raises(AssertionError, match="dt_min"):
        S4D(16, max_seq_len=32, dt_min=0.2, dt_max=0.1)
    with pytest.raises(AssertionError, match="dt_rank"):
        Mamba(16, max_seq_len=32, dt_rank=-1)


def test_flops_per_token_follow_the_complexity_class():
    mamba, s4d = get_block("mamba"), get_block("s4d")
    mamba_params, s4d_params = mamba.defaults(), s4d.defaults()
    # O(L): a token costs the same however long the sequence
    at_256, at_4096 = mamba.cost(64, 256, mamba_params), mamba.cost(64, 4096, mamba_params)
    assert at_256.flops_per_token == at_4096.flops_per_token
    # O(L log L): a token's share of the FFTs grows with log L, nothing faster
    short, long = s4d.cost(64, 256, s4d_params), s4d.cost(64, 4096, s4d_params)
    assert short.flops_per_token < long.flops_per_token < 1.5 * short.flops_per_token
    assert long.activation_bytes == pytest.approx(16 * short.activation_bytes)
