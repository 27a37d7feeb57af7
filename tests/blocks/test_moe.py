"""The moe and switch_moe blocks: causal capacity dropping, routing, aux losses, exact cost."""
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from blocks.library.moe.common import expert_capacity
from blocks.library.moe.common_nn import causal_slot_positions
from blocks.registry import get_block

D, L, B = 8, 16, 2


def build(name, **params):
    entry = get_block(name)
    torch.manual_seed(0)
    return entry.build(d_model=D, max_seq_len=L, **entry.resolve_params(params))


def reference_moe(module, x, capacity=None):
    """Token by token: sum over the top-k experts of gate * FFN_e(x), skipping an expert
    once `capacity` earlier assignments of the same sequence have claimed it."""
    ffn = module.experts_ffn
    out = torch.zeros_like(x)
    probs = module.router(x).softmax(-1)
    for b in range(x.shape[0]):
        claimed = [0] * module.experts
        for t in range(x.shape[1]):
            top_p, top_e = probs[b, t].topk(module.top_k)
            gates = top_p if module.top_k == 1 else top_p / top_p.sum()
            for gate, e in zip(gates, top_e):
                claimed[e] += 1
                if capacity is not None and claimed[e] > capacity:
                    continue
                token = x[b, t].view(1, 1, -1)
                if ffn.w_gate is not None:
                    h = torch.nn.functional.silu(token @ ffn.w_gate[e]) * (token @ ffn.w_up[e])
                else:
                    h = torch.nn.functional.gelu(token @ ffn.w_up[e], approximate="tanh")
                out[b, t] += gate * (h @ ffn.w_down[e]).view(-1)
    return out


def test_slots_are_claimed_in_position_order():
    expert_index = torch.tensor([[0, 1, 0, 0, 1, 2]])
    assert causal_slot_positions(expert_index, 3).tolist() == [[0, 0, 1, 2, 1, 0]]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=12), min_size=1, max_size=3).filter(
    lambda rows: len({len(r) for r in rows}) == 1))
def test_slot_positions_match_a_counting_loop(rows):
    expected = []
    for row in rows:
        seen = [0] * 4
        slots = []
        for e in row:
            slots.append(seen[e])
            seen[e] += 1
        expected.append(slots)
    assert causal_slot_positions(torch.tensor(rows), 4).tolist() == expected


@pytest.mark.parametrize("name,params", [
    ("moe", {"experts": 4, "top_k": 2, "capacity_factor": 0.5}),
    ("moe", {"experts": 3, "top_k": 3, "capacity_factor": 0.75, "activation": "gelu"}),
    ("switch_moe", {"experts": 4, "capacity_factor": 0.5}),
])
def test_with_dropping_output_matches_a_token_by_token_reference(name, params):
    module = build(name, **params)
    x = torch.randn(B, L, D)
    y = module(x)
    assert module.last_stats["fraction_dropped"] > 0
    capacity = expert_capacity(L, module.experts, module.top_k, module.capacity_factor)
    assert torch.allclose(y, reference_moe(module, x, capacity), atol=1e-5)


def test_capacity_formula():
    assert expert_capacity(16, 4, 1, 1.0) == 4
    assert expert_capacity(16, 4, 2, 1.25) == 10
    assert expert_capacity(16, 2, 2, 4.0) == 16  # never more than one slot per token
    assert expert_capacity(3, 64, 1, 0.5) == 1


@pytest.mark.parametrize("name,params", [
    ("moe", {}), ("moe", {"experts": 4, "top_k": 3, "activation": "gelu", "expansion": 2.0}),
    ("switch_moe", {}), ("switch_moe", {"experts": 3, "expansion": 1.5, "activation": "gelu"}),
])
def test_cost_params_equal_module_parameters(name, params):
    entry = get_block(name)
    resolved = entry.resolve_params(params)
    for d_model in (8, 20):
        module = entry.build(d_model=d_model, max_seq_len=L, **resolved)
        cost = entry.cost(d_model, L, resolved)
        assert cost.params == sum(p.numel() for p in module.parameters())
        assert cost.flops_per_token > 0 and cost.activation_bytes > 0


@pytest.mark.parametrize("name,params", [
    ("switch_moe", {"experts": 4, "capacity_factor": 0.5}),
    ("moe", {"experts": 4, "top_k": 2, "capacity_factor": 0.5}),
])
def test_dropping_is_causal_perturbing_future_tokens_leaves_past_unchanged(name, params):
    module = build(name, **params)
    x = torch.randn(B, L, D, generator=torch.Generator().manual_seed(3))
    y = module(x)
    assert module.last_stats["fraction_dropped"] > 0.2, "the test must exercise capacity dropping"
    for t in (0, 5, 10):
        x2 = x.clone()
        x2[:, t + 1:] = torch.randn(B, L - t - 1, D, generator=torch.Generator().manual_seed(t))
        y2 = module(x2)
        assert torch.allclose(y[:, : t + 1], y2[:, : t + 1], atol=1e-6), f"output at <= {t} saw the future"
        if t == 0:  # later tokens may all be dropped once capacity fills; early ones are not
            assert not torch.allclose(y[:, 1:], y2[:, 1:], atol=1e-3)


@pytest.mark.parametrize("name,params", [
    ("moe", {"experts": 4, "top_k": 2}), ("moe", {"experts": 5, "top_k": 3, "activation": "gelu"}),
    ("switch_moe", {"experts": 4}),
])
def test_without_dropping_output_is_gated_sum_of_top_k_experts(name, params):
    module = build(name, capacity_factor=16.0, **params)
    x = torch.randn(B, L, D)
    y = module(x)
    assert module.last_stats["fraction_dropped"] == 0.0
    assert torch.allclose(y, reference_moe(module, x), atol=1e-5)


def test_top_k_sends_each_token_to_k_distinct_experts():
    module = build("moe", experts=6, top_k=3, capacity_factor=16.0)
    x = torch.randn(B, L, D)
    module(x)
    # Each token contributes k assignments, so loads are multiples of 1/(B*L*k) summing to 1.
    load = module.last_expert_load * B * L * 3
    assert torch.allclose(load, load.round()) and math.isclose(float(load.sum()), B * L * 3)
    # One token picks exactly 3 experts: silencing any other expert changes nothing,
    # silencing a picked one changes the output.
    token = x[:1, :1]
    ranked = module.router(token).softmax(-1).topk(3, dim=-1).indices.flatten().tolist()
    assert len(set(ranked)) == 3
    before = module(token)
    with torch.no_grad():
        for e in set(range(6)) - set(ranked):
            module.experts_ffn.w_down[e].zero_()
        assert torch.equal(module(token), before)
        module.experts_ffn.w_down[ranked[2]].zero_()
        assert not torch.allclose(module(token), before, atol=1e-6)


def test_capacity_one_drops_later_tokens_when_all_pick_one_expert():
    module = build("switch_moe", experts=4, capacity_factor=1.0)
    with torch.no_grad():
        module.router.proj.weight.zero_()
        module.router.proj.weight[2, 0] = 10.0  # every token with x[..., 0] = 1 picks expert 2
    x = torch.randn(B, L, D)
    x[..., 0] = 1.0
    y = module(x)
    capacity = expert_capacity(L, 4, 1, 1.0)
    assert capacity == 4
    assert math.isclose(module.last_stats["fraction_dropped"], 1 - capacity / L, rel_tol=1e-6)
    assert (y[:, :capacity].abs().sum(-1) > 0).all(), "the earliest tokens claim the slots"
    assert (y[:, capacity:] == 0).all(), "tokens over capacity pass through as zero"
    assert math.isclose(module.last_stats["expert_load_max"], 1.0)


def test_aux_loss_matches_hand_computed_switch_formula():
    module = build("switch_moe", experts=2, aux_loss_weight=0.01, router_z_loss_weight=0.1, capacity_factor=4.0)
    with torch.no_grad():
        module.router.proj.weight.zero_()
        module.router.proj.weight[0, 0] = math.log(3)
        module.router.proj.weight[1, 1] = math.log(3)
    # Three tokens with probs (3/4, 1/4) and one with (1/4, 3/4).
    x = torch.zeros(1, 4, D)
    x[0, :3, 0] = 1.0
    x[0, 3, 1] = 1.0
    module(x)
    f = torch.tensor([0.75, 0.25])
    P = torch.tensor([(3 * 0.75 + 0.25) / 4, (3 * 0.25 + 0.75) / 4])
    balance = 2 * float((f * P).sum())
    assert math.isclose(balance, 1.125)
    z = math.log(4.0) ** 2  # logsumexp(ln 3, 0) = ln 4 for every token
    assert math.isclose(module.last_stats["aux_loss"], balance, rel_tol=1e-5)
    assert math.isclose(module.last_stats["z_loss"], z, rel_tol=1e-5)
    assert math.isclose(float(module.aux_loss.detach()), 0.01 * balance + 0.1 * z, rel_tol=1e-5)


def test_aux_loss_is_positive_and_has_router_gradient():
    module = build("moe", experts=4, top_k=2, capacity_factor=0.5)
    x = torch.randn(B, L, D, requires_grad=True)
    y = module(x)
    assert module.aux_loss.dim() == 0 and float(module.aux_loss.detach()) > 0
    (y.square().mean() + module.aux_loss).backward()
    assert torch.isfinite(x.grad).all()
    for name, p in module.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert module.router.proj.weight.grad.abs().sum() > 0


def test_stats_are_floats():
    module = build("moe")
    module(torch.randn(B, L, D))
    stats = module.last_stats
    assert set(stats) == {"aux_loss", "z_loss", "fraction_dropped", "expert_load_max", "expert_load_min"}
    assert all(isinstance(v, float) for v in stats.values())


def test_check_rejects_top_k_above_experts():
    entry = get_block("moe")
    errors = list(entry.check(D, L, entry.resolve_params({"experts": 2, "top_k": 3})))
    assert [field for field, _ in errors] == ["top_k"]
    assert list(entry.check(D, L, entry.resolve_params({"experts": 4, "top_k": 4}))) == []
    assert list(get_block("switch_moe").check(D, L, get_block("switch_moe").defaults())) == []


def test_registry_entries():
    for name in ("moe", "switch_moe"):
        entry = get_block(name)
        assert entry.family == "moe" and entry.causal is True and entry.recurrent is False
        assert entry.param("aux_loss_weight").default == 0.01
        assert entry.param("router_z_loss_weight").default == 0.0
    assert get_block("switch_moe").param("top_k") is None
