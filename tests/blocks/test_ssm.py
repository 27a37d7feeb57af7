"""The ssm blocks (s4d, mamba): causal, step-by-step equals forward, exact parameter cost.

The helpers at the top (``build``, ``assert_*``) are reused by test_recurrent.py.
"""
import pytest
import torch

from blocks.library.ssm import S4D, Mamba, mamba_dt_rank
from blocks.registry import get_block

TOL = 1e-5


def build(name, d_model=16, max_seq_len=32, seed=0, **given):
    entry = get_block(name)
    params = entry.resolve_params(given)
    return entry.build(d_model=d_model, max_seq_len=max_seq_len, layer_idx=0, seed=seed, **params)


def random_tokens(batch=2, length=11, d_model=16, seed=0):
    return torch.randn(batch, length, d_model, generator=torch.Generator().manual_seed(seed))


def run_steps(module, x):
    """Feed x (B, L, D) one token at a time through ``step``; returns (B, L, D)."""
    state = module.init_state(x.shape[0], x.device, x.dtype)
    outputs = []
    for t in range(x.shape[1]):
        y_t, state = module.step(x[:, t], state)
        assert y_t.shape == (x.shape[0], x.shape[2])
        outputs.append(y_t)
    return torch.stack(outputs, dim=1)


def assert_causal(module, x, t=5):
    """Changing tokens after position t changes nothing at positions <= t."""
    with torch.no_grad():
        y = module(x)
        x2 = x.clone()
        x2[:, t + 1 :] += torch.randn_like(x2[:, t + 1 :]) * 3
        y2 = module(x2)
    torch.testing.assert_close(y2[:, : t + 1], y[:, : t + 1], atol=TOL, rtol=TOL)
    assert not torch.allclose(y2[:, t + 1 :], y[:, t + 1 :], atol=1e-4), "later tokens had no effect"


def assert_step_matches_forward(module, x):
    with torch.no_grad():
        torch.testing.assert_close(run_steps(module, x), module(x), atol=TOL, rtol=TOL)


def assert_finite_gradients(module, x):
    x = x.clone().requires_grad_(True)
    module(x).square().mean().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for name, p in module.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), f"bad gradient for {name}"


def assert_cost_params_exact(name, d_model, given):
    entry = get_block(name)
    module = build(name, d_model=d_model, **given)
    actual = sum(p.numel() for p in module.parameters())
    cost = entry.cost(d_model, 32, entry.resolve_params(given))
    assert cost.params == actual, f"{name} {given}: cost says {cost.params}, module holds {actual}"
    assert cost.flops_per_token > 0 and cost.activation_bytes > 0


def check_fields(name, d_model, max_seq_len, given):
    entry = get_block(name)
    return [field for field, _ in entry.check(d_model, max_seq_len, entry.resolve_params(given))]


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
    import blocks.library.ssm as ssm
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
    assert entry.build in (S4D, Mamba)
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
