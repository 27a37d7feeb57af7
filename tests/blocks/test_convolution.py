"""The convolution family: Hyena and H3 against direct-convolution references, causality, cost."""
import pytest
import torch

from blocks.ops.diag_ssm import fft_causal_conv
from blocks.registry import get_block
from tests.blocks.block_checks import assert_step_matches_forward

D, L, B, MAX_LEN = 8, 12, 2, 16


def build(name, d_model=D, max_seq_len=MAX_LEN, **params):
    entry = get_block(name)
    torch.manual_seed(0)
    return entry.build(d_model=d_model, max_seq_len=max_seq_len, **entry.resolve_params(params))


def direct_causal_conv(u, h):
    """y[b, c, t] = sum_{s <= t} h[c, t - s] u[b, c, s], as an explicit Toeplitz product."""
    length = u.shape[-1]
    lags = torch.arange(length)[:, None] - torch.arange(length)[None, :]  # (t, s)
    toeplitz = h[:, lags.clamp(min=0)] * (lags >= 0)  # (C, t, s)
    return torch.einsum("cts,bcs->bct", toeplitz, u)


def hyena_reference(module, x):
    """Hyena's forward written with direct convolutions and explicit loops over the gates."""
    d = module.d_model
    projected = module.in_proj(x).transpose(1, 2)  # (B, (N+1) D, L)
    weight = module.short_conv.conv.weight.squeeze(1)  # (C, K)
    taps = torch.nn.functional.pad(weight.flip(-1), (0, x.shape[1] - weight.shape[1]))  # h[lag], lag < L
    short = direct_causal_conv(projected, taps) + module.short_conv.conv.bias[:, None]
    chunks = short.split(d, dim=1)
    gates, v = chunks[:-1], chunks[-1]
    filters = module.filter(x.shape[1]).view(module.order - 1, d, -1)
    skips = module.filter.skip.view(module.order - 1, d, 1)
    for i in range(module.order - 1):
        v = v * gates[module.order - 1 - i]
        v = direct_causal_conv(v, filters[i]) + skips[i] * v
    return module.out_proj((v * gates[0]).transpose(1, 2))


def assert_causal(module, length=L, atol=1e-6):
    x = torch.randn(B, length, D, generator=torch.Generator().manual_seed(7))
    y = module(x)
    for t in (0, length // 2, length - 2):
        x2 = x.clone()
        x2[:, t + 1:] = torch.randn(B, length - t - 1, D, generator=torch.Generator().manual_seed(t))
        y2 = module(x2)
        assert torch.allclose(y[:, : t + 1], y2[:, : t + 1], atol=atol), f"output at <= {t} saw the future"
        assert not torch.allclose(y[:, t + 1:], y2[:, t + 1:], atol=1e-4)


def assert_gradients_finite(module, length=L):
    x = torch.randn(B, length, D, requires_grad=True)
    module(x).square().mean().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for name, p in module.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name


# --------------------------------------------------------------------------- Hyena


def test_fft_causal_conv_equals_direct_convolution():
    u = torch.randn(B, 3, L)
    h = torch.randn(3, L)
    assert torch.allclose(fft_causal_conv(u, h), direct_causal_conv(u, h), atol=1e-5)


@pytest.mark.parametrize("params", [{}, {"order": 3, "short_filter": 4, "filter_order": 8, "filter_bands": 2}])
def test_hyena_forward_equals_direct_convolution_reference(params):
    module = build("hyena", **params)
    x = torch.randn(B, L, D)
    assert torch.allclose(module(x), hyena_reference(module, x), atol=1e-5)


def test_hyena_filter_is_generated_for_max_seq_len_and_truncated():
    module = build("hyena")
    full = module.filter(MAX_LEN)
    assert full.shape == (D, MAX_LEN)
    assert torch.allclose(module.filter(5), full[:, :5])
    # The window decays along the sequence, faster for later channels.
    window = torch.exp(-module.filter.t[:, 0][None, :] * module.filter.decay_rates[:, None])
    assert (window[:, 1:] < window[:, :-1]).all()
    assert window[-1, -1] < window[0, -1]


@pytest.mark.parametrize("params", [{}, {"order": 3}])
def test_hyena_is_causal(params):
    assert_causal(build("hyena", **params))


def test_hyena_runs_below_max_seq_len_and_gradients_are_finite():
    module = build("hyena", order=3)
    assert module(torch.randn(1, 3, D)).shape == (1, 3, D)
    assert_gradients_finite(module)


@pytest.mark.parametrize("params", [{}, {"order": 3, "filter_order": 8, "short_filter": 1, "filter_bands": 2},
                                    {"order": 2, "filter_order": 16, "short_filter": 5, "filter_bands": 1}])
def test_hyena_cost_params_exact(params):
    entry = get_block("hyena")
    resolved = entry.resolve_params(params)
    for d_model in (8, 24):
        module = entry.build(d_model=d_model, max_seq_len=MAX_LEN, **resolved)
        cost = entry.cost(d_model, MAX_LEN, resolved)
        assert cost.params == sum(p.numel() for p in module.parameters())
        assert cost.flops_per_token > 0 and cost.activation_bytes > 0
    # n log n: doubling L adds a constant per token, far less than doubling.
    short, long = entry.cost(64, 512, resolved), entry.cost(64, 1024, resolved)
    assert short.flops_per_token < long.flops_per_token < 1.5 * short.flops_per_token


def test_hyena_registry_entry_and_check():
    entry = get_block("hyena")
    assert entry.family == "convolution" and entry.complexity == "O(L log L)"
    assert entry.causal is True and entry.recurrent is False
    assert entry.param("order").check(4) is not None and entry.param("order").check(3) is None
    assert list(entry.check(D, 8, entry.defaults())) == []
    assert [f for f, _ in entry.check(D, 8, entry.resolve_params({"short_filter": 9}))] == ["short_filter"]


# --------------------------------------------------------------------------- H3


def h3_reference(module, x):
    """H3 with explicit loops over heads and key/value indices and direct convolutions."""
    H, p = module.heads, module.head_dim
    length = x.shape[1]
    q = module.q_proj(x).transpose(1, 2)  # (B, D, L)
    k_in = module.k_proj(x).transpose(1, 2)
    weight = module.shift.conv.weight.squeeze(1)  # (D, N)
    taps = torch.nn.functional.pad(weight.flip(-1), (0, max(0, length - weight.shape[1])))[:, :length]
    k = direct_causal_conv(k_in, taps)
    v = module.v_proj(x).transpose(1, 2)
    kernel = module.ssm.kernel(length)  # (H, L)
    y = torch.zeros_like(q)
    for h in range(H):
        for j in range(p):
            for i in range(p):
                kv = k[:, h * p + i] * v[:, h * p + j]  # (B, L)
                s = direct_causal_conv(kv[:, None], kernel[h:h + 1])[:, 0] + module.ssm.D[h] * kv
                y[:, h * p + j] += q[:, h * p + i] * s
    return module.out_proj(y.transpose(1, 2))


def test_shift_filter_is_a_causal_fir_of_d_state_taps():
    module = build("h3", d_state=4)
    impulse = torch.zeros(1, D, L)
    impulse[..., 2] = 1.0
    response = module.shift(impulse)  # (1, D, L)
    weight = module.shift.conv.weight.squeeze(1)  # (D, 4)
    assert (response[..., :2] == 0).all(), "nothing before the impulse"
    assert torch.allclose(response[0, :, 2:6], weight.flip(-1))
    assert (response[..., 6:] == 0).all(), "the shift SSM forgets after d_state steps"


@pytest.mark.parametrize("params", [{}, {"heads": 2, "d_state": 4}, {"heads": 1, "d_state": 2}])
def test_h3_forward_equals_direct_reference(params):
    module = build("h3", **params)
    x = torch.randn(B, L, D)
    assert torch.allclose(module(x), h3_reference(module, x), atol=1e-5)


@pytest.mark.parametrize("params", [{}, {"heads": 2, "d_state": 4}, {"heads": 1, "d_state": 32}])
def test_h3_step_by_step_equals_forward(params):
    module = build("h3", **params)
    x = torch.randn(B, L, D)
    assert_step_matches_forward(module, x)


@pytest.mark.parametrize("params", [{}, {"heads": 2, "d_state": 4}])
def test_h3_is_causal_and_gradients_finite(params):
    module = build("h3", **params)
    assert_causal(module)
    assert_gradients_finite(module)


@pytest.mark.parametrize("params", [{}, {"heads": 2, "d_state": 4}, {"heads": 1, "d_state": 64}])
def test_h3_cost_params_exact(params):
    entry = get_block("h3")
    resolved = entry.resolve_params(params)
    for d_model in (8, 16):
        module = entry.build(d_model=d_model, max_seq_len=MAX_LEN, **resolved)
        cost = entry.cost(d_model, MAX_LEN, resolved)
        assert cost.params == sum(p.numel() for p in module.parameters())
        assert cost.flops_per_token > 0 and cost.activation_bytes > 0
    # Fewer heads means bigger heads and head_dim^2 channels: more compute and memory.
    few, many = entry.cost(64, 256, {"heads": 2, "d_state": 16}), entry.cost(64, 256, {"heads": 16, "d_state": 16})
    assert few.flops_per_token > many.flops_per_token and few.activation_bytes > many.activation_bytes


def test_h3_check_reports_heads_and_odd_state():
    entry = get_block("h3")
    assert list(entry.check(D, L, entry.defaults())) == []
    fields = [f for f, _ in entry.check(12, L, entry.resolve_params({"heads": 8, "d_state": 5}))]
    assert fields == ["heads", "d_state"]


def test_h3_defaults_are_the_references_head_dim_1_and_d_state_64():
    """Fu, Dao et al.'s H3 defaults: head_dim 1 (d_model heads) and d_state 64, at any width."""
    entry = get_block("h3")
    for d_model in (8, 12, 24):
        module = entry.build(d_model=d_model, max_seq_len=MAX_LEN, **entry.defaults())
        assert (module.heads, module.head_dim, module.d_state) == (d_model, 1, 64)
        assert list(entry.check(d_model, L, entry.defaults())) == []
        explicit = entry.resolve_params({"heads": d_model})
        assert entry.cost(d_model, 256, entry.defaults()) == entry.cost(d_model, 256, explicit)
        assert entry.state(d_model, 256, entry.defaults()) == entry.state(d_model, 256, explicit)
    torch.manual_seed(0)
    default = entry.build(d_model=D, max_seq_len=MAX_LEN, **entry.defaults())
    torch.manual_seed(0)
    explicit = entry.build(d_model=D, max_seq_len=MAX_LEN, **entry.resolve_params({"heads": D, "d_state": 64}))
    x = torch.randn(B, L, D)
    assert torch.equal(default(x), explicit(x))


def test_h3_registry_entry():
    entry = get_block("h3")
    assert entry.family == "convolution" and entry.complexity == "O(L log L)"
    assert entry.causal is True and entry.recurrent is True


@pytest.mark.parametrize("gated", [False, True])
def test_short_conv_is_a_causal_fir_filter_and_its_step_form_matches(gated):
    module = build("short_conv", kernel_size=3, gated=gated)
    x = torch.randn(B, L, D, generator=torch.Generator().manual_seed(1))
    weight = module.conv.conv.weight.squeeze(1)  # (D, K), tap K-1 is the current token
    expected = torch.zeros(B, L, D)
    for t in range(L):
        for j in range(3):
            if t - j >= 0:
                expected[:, t] += weight[:, 2 - j] * x[:, t - j]
    expected = expected + module.conv.conv.bias
    if gated:
        expected = module.out_proj(module.in_proj(x) * expected)
    with torch.no_grad():
        torch.testing.assert_close(module(x), expected, atol=1e-5, rtol=1e-5)
    assert_step_matches_forward(module, x)
    cost = get_block("short_conv").cost(D, L, get_block("short_conv").resolve_params({"kernel_size": 3, "gated": gated}))
    assert cost.params == sum(p.numel() for p in module.parameters())
