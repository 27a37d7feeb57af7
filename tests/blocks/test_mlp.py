"""The mlp block: hidden-size rule, exact cost, causality, gradients, and step == forward."""
import pytest
import torch

from blocks.library.mlp.mlp import mlp_hidden_size
from blocks.library.mlp.mlp_nn import MLP
from blocks.registry import get_block
from tests.blocks.block_checks import assert_step_matches_forward

D, L, B = 16, 12, 2


def build(**params):
    entry = get_block("mlp")
    torch.manual_seed(0)
    return entry.build(d_model=D, max_seq_len=L, **entry.resolve_params(params))


def test_swiglu_hidden_is_two_thirds_rounded_up_to_multiple_of_8():
    assert mlp_hidden_size(96, 4.0, "swiglu") == 256  # 2/3*4*96 = 256 exactly
    assert mlp_hidden_size(16, 4.0, "swiglu") == 48  # int(42.67)=42 -> 48
    assert mlp_hidden_size(16, 4.0, "gelu") == 64
    assert mlp_hidden_size(8, 0.25, "swiglu") == 8  # never below one multiple


@pytest.mark.parametrize(
    "params",
    [{}, {"activation": "gelu"}, {"activation": "gelu", "bias": True, "expansion": 2.5},
     {"activation": "swiglu", "bias": True, "expansion": 1.0}],
)
def test_cost_params_equal_module_parameters(params):
    entry = get_block("mlp")
    resolved = entry.resolve_params(params)
    for d_model in (8, 24):
        module = entry.build(d_model=d_model, max_seq_len=L, **resolved)
        cost = entry.cost(d_model, L, resolved)
        assert cost.params == sum(p.numel() for p in module.parameters())
        assert cost.flops_per_token > 2 * cost.params - 1e-9  # at least one MAC per weight
        assert cost.activation_bytes > 0


@pytest.mark.parametrize("activation", ["swiglu", "gelu"])
def test_perturbing_future_tokens_leaves_past_outputs_unchanged(activation):
    module = build(activation=activation)
    x = torch.randn(B, L, D, generator=torch.Generator().manual_seed(1))
    t = 5
    x2 = x.clone()
    x2[:, t + 1:] += torch.randn(B, L - t - 1, D)
    y, y2 = module(x), module(x2)
    assert torch.allclose(y[:, : t + 1], y2[:, : t + 1], atol=1e-6)
    assert not torch.allclose(y[:, t + 1:], y2[:, t + 1:], atol=1e-3)


@pytest.mark.parametrize("activation", ["swiglu", "gelu"])
def test_step_by_step_equals_forward(activation):
    module = build(activation=activation, bias=True)
    x = torch.randn(B, L, D)
    assert_step_matches_forward(module, x)


def test_gradients_are_finite_and_reach_every_weight():
    module = build(bias=True)
    x = torch.randn(B, L, D, requires_grad=True)
    module(x).square().mean().backward()
    assert torch.isfinite(x.grad).all()
    for name, p in module.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, f"{name} got no gradient"


def test_gelu_mlp_computes_down_of_gelu_of_up():
    module = build(activation="gelu", bias=True)
    x = torch.randn(B, L, D)
    ffn = module.ffn
    expected = ffn.down(torch.nn.functional.gelu(ffn.up(x), approximate="tanh"))
    assert torch.allclose(module(x), expected, atol=1e-6)
    assert isinstance(module, MLP) and module.hidden == 64


def test_registry_entry_shape():
    entry = get_block("mlp")
    assert entry.family == "mlp" and entry.causal is True and entry.recurrent is True
    assert entry.complexity == "O(L)"
    assert list(entry.check(D, L, entry.defaults())) == []
    assert entry.param("expansion").check(0.0) is not None
