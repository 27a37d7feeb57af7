"""The memory family: exact costs, causality, step == forward, stop-gradient cache, reads by content."""
import math

import pytest
import torch

from blocks.registry import get_block
from tests.blocks.block_checks import assert_step_matches_forward

D, L, B, MAX_LEN = 16, 19, 2, 32

SETTINGS = [
    ("memory_tokens", {}),
    ("memory_tokens", {"heads": 2, "num_tokens": 3, "position": "none"}),
    ("segment_recurrence", {"segment_len": 5}),
    ("segment_recurrence", {"segment_len": 1, "heads": 2}),
    ("segment_recurrence", {"segment_len": 32, "position": "none"}),
    ("kv_memory", {}),
    ("kv_memory", {"heads": 1, "slots": 7}),
]


def build(name, params, d_model=D, max_seq_len=MAX_LEN):
    entry = get_block(name)
    torch.manual_seed(0)
    return entry.build(d_model=d_model, max_seq_len=max_seq_len, **entry.resolve_params(params))


def data(length=L, seed=1):
    return torch.randn(B, length, D, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name,params", SETTINGS)
def test_cost_params_equal_module_parameters(name, params):
    entry = get_block(name)
    resolved = entry.resolve_params(params)
    for d_model in (16, 32):
        module = entry.build(d_model=d_model, max_seq_len=MAX_LEN, **resolved)
        cost = entry.cost(d_model, MAX_LEN, resolved)
        assert cost.params == sum(p.numel() for p in module.parameters()), name
        assert cost.flops_per_token > 2 * cost.params * 0.5 and cost.activation_bytes > 0
        assert list(entry.check(d_model, MAX_LEN, resolved)) == []


@pytest.mark.parametrize("name,params", SETTINGS)
def test_cost_per_token_grows_with_length_as_the_complexity_class_says(name, params):
    entry = get_block(name)
    resolved = entry.resolve_params(params)
    ratio = entry.cost(64, 4096, resolved).flops_per_token / entry.cost(64, 1024, resolved).flops_per_token
    if entry.complexity == "O(L^2)":
        assert ratio > 1.5, ratio
    else:
        assert ratio == pytest.approx(1.0), ratio


@pytest.mark.parametrize("name,params", SETTINGS)
def test_perturbing_future_tokens_leaves_past_outputs_unchanged(name, params):
    module = build(name, params)
    x = data()
    for t in (0, 4, 5, 12):
        x2 = x.clone()
        x2[:, t + 1:] += torch.randn(B, L - t - 1, D)
        y, y2 = module(x), module(x2)
        assert torch.allclose(y[:, : t + 1], y2[:, : t + 1], atol=1e-6), f"{name}: position <= {t} saw the future"
        assert not torch.allclose(y[:, t + 1:], y2[:, t + 1:], atol=1e-3)


@pytest.mark.parametrize("name,params", SETTINGS)
def test_step_by_step_equals_forward(name, params):
    assert get_block(name).recurrent
    module = build(name, params)
    x = data()
    assert_step_matches_forward(module, x)


@pytest.mark.parametrize("name,params", SETTINGS)
def test_gradients_reach_every_parameter_and_are_finite(name, params):
    module = build(name, params)
    x = data().requires_grad_()
    module(x).square().mean().backward()
    assert torch.isfinite(x.grad).all()
    for pname, p in module.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, f"{name}.{pname}"


@pytest.mark.parametrize("name,params,field", [
    ("memory_tokens", {"heads": 3}, "heads"),
    ("memory_tokens", {"heads": 16}, "heads"),  # head size 1: no rotary
    ("segment_recurrence", {"segment_len": MAX_LEN + 1}, "segment_len"),
    ("segment_recurrence", {"heads": 5}, "heads"),
    ("kv_memory", {"heads": 6}, "heads"),
])
def test_check_names_the_field_of_a_bad_combination(name, params, field):
    entry = get_block(name)
    problems = list(entry.check(D, MAX_LEN, entry.resolve_params(params)))
    assert [f for f, _ in problems] == [field], problems


# ----------------------------------------------------------------------------- memory tokens

def test_memory_tokens_equal_explicit_attention_over_memory_then_causal_tokens():
    module = build("memory_tokens", {"heads": 2, "num_tokens": 3, "position": "none"})
    x = data()
    q, k, v = module.proj.qkv(x)  # (B, H, L, hd)
    keys = torch.cat([module.memory_keys.expand(B, -1, -1, -1), k], dim=2)
    values = torch.cat([module.memory_values.expand(B, -1, -1, -1), v], dim=2)
    scores = q @ keys.transpose(-1, -2) / math.sqrt(q.shape[-1])  # (B, H, L, 3 + L)
    future = torch.ones(L, L, dtype=torch.bool).triu(1)
    scores[..., 3:] = scores[..., 3:].masked_fill(future, float("-inf"))
    torch.testing.assert_close(module(x), module.proj.out(scores.softmax(-1) @ values), atol=1e-5, rtol=1e-5)


def test_first_token_reads_the_memory():
    module = build("memory_tokens", {"num_tokens": 4})
    x = data()
    before = module(x)[:, 0].clone()
    with torch.no_grad():
        module.memory_values.add_(1.0)
    assert not torch.allclose(module(x)[:, 0], before, atol=1e-4)


# ----------------------------------------------------------------------------- Transformer-XL

def test_segment_sees_the_previous_segment_but_not_the_one_before():
    module = build("segment_recurrence", {"segment_len": 5})
    x = data()
    y = module(x)
    x_prev = x.clone()
    x_prev[:, 5:10] += 1.0  # segment 1
    assert not torch.allclose(module(x_prev)[:, 10], y[:, 10], atol=1e-4), "segment 2 must read segment 1"
    x_old = x.clone()
    x_old[:, 0:5] += 1.0  # segment 0
    torch.testing.assert_close(module(x_old)[:, 10:], y[:, 10:])


def test_cached_segment_is_stop_gradient():
    module = build("segment_recurrence", {"segment_len": 5})
    x = data().requires_grad_()
    module(x)[:, 5:10].sum().backward()  # outputs of segment 1
    assert torch.count_nonzero(x.grad[:, 0:5]) == 0, "no gradient may flow into the cached segment"
    assert x.grad[:, 5:10].abs().sum() > 0


def test_segment_len_one_attends_to_itself_and_its_predecessor_only():
    module = build("segment_recurrence", {"segment_len": 1, "position": "none"})
    x = data(length=4)
    q, k, v = module.proj.qkv(x)
    t = 3
    scores = q[:, :, t:t + 1] @ k[:, :, t - 1:t + 1].transpose(-1, -2) / math.sqrt(q.shape[-1])
    expected = module.proj.out(scores.softmax(-1) @ v[:, :, t - 1:t + 1])  # (B, 1, D)
    torch.testing.assert_close(module(x)[:, t], expected[:, 0], atol=1e-5, rtol=1e-5)


# ----------------------------------------------------------------------------- key-value memory

def test_kv_memory_is_a_softmax_read_of_learned_values():
    module = build("kv_memory", {"heads": 1, "slots": 5})
    x = data()
    q = module.q_proj(x)  # (B, L, D) one head
    weights = (q @ module.memory_keys[0].T / math.sqrt(D)).softmax(-1)  # (B, L, 5)
    torch.testing.assert_close(module(x), module.out_proj(weights @ module.memory_values[0]), atol=1e-5, rtol=1e-5)


def test_kv_memory_is_read_only_and_position_wise_and_says_so():
    """Its slots are parameters nothing writes at run time, and each position reads on its own:
    the entry describes it as such (issue 14: it cited NTM)."""
    module = build("kv_memory", {"heads": 2, "slots": 6})
    x = data()
    slots = (module.memory_keys.detach().clone(), module.memory_values.detach().clone())
    with torch.no_grad():
        whole = module(x)
        one_by_one = torch.stack([module(x[:, t:t + 1])[:, 0] for t in range(x.shape[1])], dim=1)
    torch.testing.assert_close(whole, one_by_one, atol=1e-6, rtol=1e-6)
    assert torch.equal(module.memory_keys, slots[0]) and torch.equal(module.memory_values, slots[1])
    entry = get_block("kv_memory")
    assert "Turing" not in entry.paper and "read-only" in entry.title and "Persistent Memory" in entry.paper
    assert entry.state(D, L, entry.defaults()) == 0


def test_kv_memory_with_identical_keys_reads_the_mean_value():
    module = build("kv_memory", {"heads": 2, "slots": 6})
    with torch.no_grad():
        module.memory_keys.copy_(module.memory_keys[:, :1].expand_as(module.memory_keys))
    mean_read = module.memory_values.mean(dim=1).reshape(1, D)  # (H, hd) -> (1, D)
    expected = module.out_proj(mean_read).expand(B, L, D)
    torch.testing.assert_close(module(data()), expected, atol=1e-5, rtol=1e-5)
