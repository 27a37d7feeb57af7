"""The attention family: exact costs, causality, step == forward, sparse == dense references, checks."""
import math

import pytest
import torch
import torch.nn.functional as F

from blocks.library.attention.performer_attention_nn import orthogonal_random_features
from blocks.ops.attention_masks import bigbird_block_layout, sample_distinct
from blocks.registry import get_block
from tests.blocks.block_checks import assert_step_matches_forward

D, L, B, MAX_LEN = 16, 19, 2, 32

CAUSAL_SETTINGS = [
    ("softmax_attention", {}),
    ("softmax_attention", {"kv_heads": 2, "position": "learned", "bias": True}),
    ("softmax_attention", {"heads": 2, "kv_heads": 1, "position": "none"}),
    ("sliding_window_attention", {"window": 4}),
    ("sliding_window_attention", {"window": 5, "global_tokens": 3, "position": "none"}),
    ("sliding_window_attention", {"window": 1, "global_tokens": 2}),
    ("sliding_window_attention", {"window": 32, "global_tokens": 1}),
    ("bigbird_attention", {"block_size": 4}),
    ("bigbird_attention", {"block_size": 3, "window_blocks": 0, "global_blocks": 2, "random_blocks": 2}),
    ("linformer_attention", {"proj_len": 4, "chunk_size": 5}),
    ("linformer_attention", {"heads": 2, "proj_len": 8, "chunk_size": 8}),
    ("performer_attention", {"nb_features": 12}),
    ("linear_attention", {"heads": 2}),
]
RECURRENT_SETTINGS = [s for s in CAUSAL_SETTINGS if get_block(s[0]).recurrent]
ALL_SETTINGS = CAUSAL_SETTINGS + [("linformer_attention", {"causal": False, "proj_len": 6}), ("fnet", {})]


def build(name, params, d_model=D, max_seq_len=MAX_LEN, seed=0):
    entry = get_block(name)
    torch.manual_seed(0)
    return entry.build(d_model=d_model, max_seq_len=max_seq_len, seed=seed, **entry.resolve_params(params))


def data(length=L, seed=1):
    return torch.randn(B, length, D, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("name,params", ALL_SETTINGS)
def test_cost_params_equal_module_parameters(name, params):
    entry = get_block(name)
    resolved = entry.resolve_params(params)
    for d_model in (16, 32):
        module = entry.build(d_model=d_model, max_seq_len=MAX_LEN, **resolved)
        cost = entry.cost(d_model, MAX_LEN, resolved)
        assert cost.params == sum(p.numel() for p in module.parameters()), name
        assert cost.flops_per_token > 0 and cost.activation_bytes > 0
        assert list(entry.check(d_model, MAX_LEN, resolved)) == []


@pytest.mark.parametrize("name,params", ALL_SETTINGS)
def test_cost_per_token_grows_with_length_as_the_complexity_class_says(name, params):
    entry = get_block(name)
    resolved = entry.resolve_params(params)
    short, long = entry.cost(64, 1024, resolved), entry.cost(64, 4096, resolved)
    ratio = long.flops_per_token / short.flops_per_token
    if entry.complexity == "O(L^2)":
        assert ratio > 1.5, ratio  # attention flops per token grow linearly in L
    elif "log" in entry.complexity:
        assert 1.0 < ratio < 1.5, ratio
    else:
        assert ratio == pytest.approx(1.0), ratio  # constant work per token
    assert long.activation_bytes > short.activation_bytes


@pytest.mark.parametrize("name,params", CAUSAL_SETTINGS)
def test_perturbing_future_tokens_leaves_past_outputs_unchanged(name, params):
    assert get_block(name).is_causal(get_block(name).resolve_params(params))
    module = build(name, params)
    x = data()
    for t in (0, 6, 13):
        x2 = x.clone()
        x2[:, t + 1:] += torch.randn(B, L - t - 1, D)
        y, y2 = module(x), module(x2)
        assert torch.allclose(y[:, : t + 1], y2[:, : t + 1], atol=1e-6), f"{name}: position <= {t} saw the future"
        assert not torch.allclose(y[:, t + 1:], y2[:, t + 1:], atol=1e-3)


@pytest.mark.parametrize("name,params", [("fnet", {}), ("linformer_attention", {"causal": False})])
def test_noncausal_blocks_say_so_and_do_see_the_future(name, params):
    entry = get_block(name)
    assert not entry.is_causal(entry.resolve_params(params))
    module = build(name, params)
    x = data()
    x2 = x.clone()
    x2[:, -1] += 1.0
    assert not torch.allclose(module(x)[:, 0], module(x2)[:, 0], atol=1e-4)


@pytest.mark.parametrize("name,params", RECURRENT_SETTINGS)
def test_step_by_step_equals_forward(name, params):
    module = build(name, params)
    x = data()
    assert_step_matches_forward(module, x)


@pytest.mark.parametrize("name,params", ALL_SETTINGS)
def test_gradients_reach_every_parameter_and_are_finite(name, params):
    module = build(name, params)
    x = data().requires_grad_()
    module(x).square().mean().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for pname, p in module.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), f"{name}.{pname}"


@pytest.mark.parametrize(
    "name,params,field",
    [
        ("softmax_attention", {"heads": 3}, "heads"),
        ("softmax_attention", {"heads": 4, "kv_heads": 3}, "kv_heads"),
        ("softmax_attention", {"heads": 2, "kv_heads": 4}, "kv_heads"),
        ("softmax_attention", {"heads": 16}, "heads"),  # head size 1 is odd: no rotary
        ("sliding_window_attention", {"window": MAX_LEN + 1}, "window"),
        ("sliding_window_attention", {"global_tokens": MAX_LEN + 1}, "global_tokens"),
        ("bigbird_attention", {"block_size": MAX_LEN + 1}, "block_size"),
        ("bigbird_attention", {"block_size": 8, "global_blocks": 5}, "global_blocks"),
        ("linformer_attention", {"proj_len": MAX_LEN + 1}, "proj_len"),
        ("linformer_attention", {"chunk_size": MAX_LEN + 1}, "chunk_size"),
        ("performer_attention", {"heads": 5}, "heads"),
        ("linear_attention", {"heads": 6}, "heads"),
    ],
)
def test_check_names_the_field_of_a_bad_combination(name, params, field):
    entry = get_block(name)
    problems = list(entry.check(D, MAX_LEN, entry.resolve_params(params)))
    assert [f for f, _ in problems] == [field], problems
    assert all(isinstance(message, str) and message for _, message in problems)


def test_position_none_allows_an_odd_head_size():
    entry = get_block("softmax_attention")
    assert list(entry.check(D, MAX_LEN, entry.resolve_params({"heads": 16, "position": "none"}))) == []


# ----------------------------------------------------------------------------- softmax attention

def test_softmax_attention_equals_explicit_causal_softmax():
    module = build("softmax_attention", {"position": "none", "heads": 2})
    x = data()
    q, k, v = module.proj.qkv(x)
    scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~torch.ones(L, L, dtype=torch.bool).tril(), float("-inf"))
    expected = module.proj.out(scores.softmax(-1) @ v)
    torch.testing.assert_close(module(x), expected, atol=1e-5, rtol=1e-5)


def test_grouped_query_attention_shares_key_value_heads():
    gqa, mha = build("softmax_attention", {"heads": 4, "kv_heads": 2}), build("softmax_attention", {"heads": 4})
    assert gqa.proj.kv_proj.out_features == 2 * 2 * (D // 4)
    assert mha.proj.kv_proj.out_features == 2 * D
    assert build("softmax_attention", {"heads": 4, "kv_heads": 4}).proj.kv_proj.out_features == 2 * D


def test_rope_makes_attention_depend_on_relative_position_only():
    module = build("softmax_attention", {"heads": 2})
    x = data(length=6)
    # Same tokens shifted right by 3 with a prefix that nothing can see beyond: compare
    # attention scores through the projections instead, which RoPE makes shift-invariant.
    pos_a, pos_b = torch.arange(6), torch.arange(6) + 3
    qa, ka, _ = module._project(x, pos_a)
    qb, kb, _ = module._project(x, pos_b)
    torch.testing.assert_close(qa @ ka.transpose(-1, -2), qb @ kb.transpose(-1, -2), atol=1e-4, rtol=1e-4)
    assert not torch.allclose(qa, qb)


# ----------------------------------------------------------------------------- sliding window

@pytest.mark.parametrize("window,global_tokens,length", [(4, 0, 19), (5, 3, 19), (1, 0, 8), (1, 2, 8), (8, 2, 16),
                                                         (30, 0, 12), (3, 11, 19)])
def test_sliding_window_matches_dense_masked_reference(window, global_tokens, length):
    module = build("sliding_window_attention", {"window": window, "global_tokens": global_tokens})
    x = data(length=length)
    torch.testing.assert_close(module(x), module.dense_reference(x), atol=1e-5, rtol=1e-5)


def test_sliding_window_ignores_tokens_older_than_the_window_except_globals():
    module = build("sliding_window_attention", {"window": 4, "global_tokens": 2})
    x = data()
    x2 = x.clone()
    x2[:, 2:10] += 5.0  # neither global (positions 0, 1) nor within 4 of position 13
    torch.testing.assert_close(module(x)[:, 13:], module(x2)[:, 13:])
    x3 = x.clone()
    x3[:, 1] += 5.0  # a global token changes every later output
    assert not torch.allclose(module(x)[:, -1], module(x3)[:, -1], atol=1e-4)


def test_sliding_window_step_cache_stays_within_window_plus_globals():
    module = build("sliding_window_attention", {"window": 4, "global_tokens": 2})
    x = data()
    state = module.init_state(B, x.device, x.dtype)
    for t in range(L):
        _, state = module.step(x[:, t], state)
        assert state["k_recent"].shape[2] == min(t + 1, 3) and state["k_global"].shape[2] == min(t + 1, 2)


@pytest.mark.parametrize("name,params", [("performer_attention", {"nb_features": 12}), ("linear_attention", {})])
def test_linear_attentions_keep_float32_prefix_sums_under_bf16_autocast(name, params):
    module = build(name, params)
    x = data()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = module(x)
    assert torch.isfinite(low).all()
    torch.testing.assert_close(low.float(), module(x), atol=5e-2, rtol=5e-2)


def record_attention_shapes(monkeypatch):
    shapes = []
    original = F.scaled_dot_product_attention

    def recording(q, k, v, *args, **kwargs):
        shapes.append((tuple(q.shape), tuple(k.shape)))
        return original(q, k, v, *args, **kwargs)

    monkeypatch.setattr(F, "scaled_dot_product_attention", recording)
    return shapes


@pytest.mark.parametrize("name,params,keys_per_query", [
    ("sliding_window_attention", {"window": 4, "global_tokens": 2}, 2 + 2 * 4),
    ("bigbird_attention", {"block_size": 4, "window_blocks": 1, "global_blocks": 1, "random_blocks": 1}, 4 * 4),
    ("linformer_attention", {"proj_len": 4, "chunk_size": 8}, 4 + 8),
])
def test_sparse_blocks_never_score_more_keys_than_their_pattern(monkeypatch, name, params, keys_per_query):
    module = build(name, params, max_seq_len=64)
    shapes = record_attention_shapes(monkeypatch)
    module(data(length=64))
    assert len(shapes) == 1
    (q_shape, k_shape), = shapes
    assert q_shape[-2] < 64 and k_shape[-2] == keys_per_query, shapes


# ----------------------------------------------------------------------------- BigBird

@pytest.mark.parametrize("params,length", [
    ({"block_size": 4}, 19),
    ({"block_size": 3, "window_blocks": 0, "global_blocks": 2, "random_blocks": 2}, 19),
    ({"block_size": 2, "window_blocks": 2, "global_blocks": 0, "random_blocks": 3}, 32),
    ({"block_size": 5, "window_blocks": 0, "global_blocks": 0, "random_blocks": 0}, 12),
])
def test_bigbird_matches_dense_reference_with_its_own_mask(params, length):
    module = build("bigbird_attention", params)
    x = data(length=length)
    torch.testing.assert_close(module(x), module.dense_reference(x), atol=1e-5, rtol=1e-5)
    mask = module.dense_mask(length)
    assert not mask.triu(1).any(), "the layout must be causal"
    assert mask.diagonal().all(), "every token sees itself"


def test_bigbird_random_pattern_is_fixed_per_seed_and_differs_across_seeds():
    params = {"block_size": 2, "window_blocks": 1, "global_blocks": 1, "random_blocks": 2}
    a, a_again = build("bigbird_attention", params, seed=3), build("bigbird_attention", params, seed=3)
    b = build("bigbird_attention", params, seed=4)
    assert torch.equal(a.key_block_index, a_again.key_block_index)
    assert not torch.equal(a.key_block_index, b.key_block_index)
    # layout lives in buffers, not parameters, and travels with the state dict
    assert "key_block_index" in a.state_dict()
    assert all("key_block" not in n for n, _ in a.named_parameters())


def test_bigbird_layout_lists_each_earlier_block_at_most_once():
    index, valid = bigbird_block_layout(12, 1, 2, 3, torch.Generator().manual_seed(0))
    for n in range(12):
        listed = index[n][valid[n]].tolist()
        assert len(listed) == len(set(listed)) and max(listed) == n and listed[0] == n
        expected = min(n + 1, 1 + 1 + 2 + 3)  # own + window + globals + randoms, when there are enough blocks
        assert len(listed) == expected


def test_bigbird_layout_for_a_shorter_sequence_is_a_prefix_of_the_longer_one():
    short = bigbird_block_layout(8, 1, 1, 2, torch.Generator().manual_seed(5))
    long = bigbird_block_layout(20, 1, 1, 2, torch.Generator().manual_seed(5))
    assert torch.equal(short[0], long[0][:8]) and torch.equal(short[1], long[1][:8])


def test_sample_distinct_draws_distinct_members_and_all_of_a_small_population():
    g = torch.Generator().manual_seed(0)
    counts = torch.zeros(6)
    for _ in range(3000):
        picks = sample_distinct(6, 2, torch.rand(2, generator=g).tolist())
        assert len(set(picks)) == 2 and all(0 <= p < 6 for p in picks)
        counts[picks] += 1
    assert (counts / counts.sum() - 1 / 6).abs().max() < 0.02, counts  # uniform over members
    assert sorted(sample_distinct(3, 5, [0.5] * 5)) == [0, 1, 2]
    assert sample_distinct(0, 2, [0.1, 0.2]) == []


# ----------------------------------------------------------------------------- Linformer

@pytest.mark.parametrize("chunk_size,length", [(5, 19), (4, 16), (1, 7), (32, 19)])
def test_causal_linformer_matches_query_by_query_reference(chunk_size, length):
    module = build("linformer_attention", {"proj_len": 4, "chunk_size": chunk_size})
    x = data(length=length)
    torch.testing.assert_close(module(x), module.dense_reference(x), atol=1e-5, rtol=1e-5)


def test_noncausal_linformer_refuses_a_step_form():
    with pytest.raises(AssertionError, match="no step form"):
        build("linformer_attention", {"causal": False}).init_state(B)


def test_noncausal_linformer_is_attention_over_length_projected_keys():
    module = build("linformer_attention", {"causal": False, "proj_len": 6, "heads": 2})
    x = data()
    q, k, v = module.proj.qkv(x)
    k_low = module.key_compress[:, :L] @ k  # (B, H, r, hd)
    v_low = module.value_compress[:, :L] @ v
    weights = (q @ k_low.transpose(-1, -2) / math.sqrt(q.shape[-1])).softmax(-1)
    torch.testing.assert_close(module(x), module.proj.out(weights @ v_low), atol=1e-5, rtol=1e-5)


# ----------------------------------------------------------------------------- linear attentions

def test_linear_attention_is_normalised_elu_plus_one_kernel_attention():
    module = build("linear_attention", {"heads": 2})
    x = data()
    q, k, v = (p(x).view(B, L, 2, D // 2).transpose(1, 2) for p in (module.q_proj, module.k_proj, module.v_proj))
    q, k = F.elu(q) + 1, F.elu(k) + 1
    weights = (q @ k.transpose(-1, -2)).tril()
    weights = weights / weights.sum(-1, keepdim=True)
    expected = module.out_proj((weights @ v).transpose(1, 2).reshape(B, L, D))
    torch.testing.assert_close(module(x), expected, atol=1e-5, rtol=1e-5)


def test_orthogonal_random_features_are_orthogonal_within_a_block_and_seeded():
    w = orthogonal_random_features(10, 8, torch.Generator().manual_seed(0))
    directions = w[:8] / w[:8].norm(dim=1, keepdim=True)
    torch.testing.assert_close(directions @ directions.T, torch.eye(8), atol=1e-5, rtol=0)
    assert torch.equal(w, orthogonal_random_features(10, 8, torch.Generator().manual_seed(0)))
    assert not torch.equal(w, orthogonal_random_features(10, 8, torch.Generator().manual_seed(1)))


def test_performer_features_estimate_the_softmax_kernel():
    module = build("performer_attention", {"heads": 1, "nb_features": 2048}, d_model=8)
    g = torch.Generator().manual_seed(0)
    q, k = 0.5 * torch.randn(6, 8, generator=g), 0.5 * torch.randn(6, 8, generator=g)
    estimate = module.features(q, False) @ module.features(k, False).T
    exact = torch.exp(q @ k.T / math.sqrt(8))
    assert ((estimate - exact).abs() / exact).mean() < 0.05


def test_performer_features_are_fixed_buffers_from_the_seed():
    a, b = build("performer_attention", {}, seed=0), build("performer_attention", {}, seed=1)
    assert not torch.equal(a.projection, b.projection)
    assert torch.equal(a.projection, build("performer_attention", {}, seed=0).projection)
    assert all(n != "projection" for n, _ in a.named_parameters())


# ----------------------------------------------------------------------------- FNet

def test_fnet_is_the_real_part_of_the_2d_dft():
    module = build("fnet", {})
    x = data(length=6)
    n, d = torch.arange(6.0), torch.arange(float(D))
    seq_dft = torch.exp(-2j * math.pi * torch.outer(n, n) / 6)
    hid_dft = torch.exp(-2j * math.pi * torch.outer(d, d) / D)
    expected = (seq_dft @ x.to(torch.complex64) @ hid_dft).real
    torch.testing.assert_close(module(x), expected, atol=1e-4, rtol=1e-4)
    assert sum(p.numel() for p in module.parameters()) == 0
