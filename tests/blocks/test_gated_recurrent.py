"""The gated recurrent blocks (gla, deltanet, rnn, mamba2): their ops against a naive loop written from the paper's
equations, chunked against step form to 1e-5, causality, gradients and exact parameter cost."""
import pytest
import torch
import torch.nn.functional as F

import blocks.ops
from blocks.library.recurrent.deltanet_nn import DeltaNet
from blocks.library.recurrent.gla_nn import GatedLinearAttention
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

CONFIGS = [
    ("gla", {}),
    ("gla", {"heads": 2, "chunk_size": 4}),  # 4 does not divide 37
    ("gla", {"heads": 1, "expand_k": 1.0, "expand_v": 2.0, "chunk_size": 64}),  # one chunk
    ("deltanet", {}),
    ("deltanet", {"chunk_size": 5}),
    ("deltanet", {"gated": True, "expand_v": 2.0, "heads": 2, "chunk_size": 8}),
    ("rnn", {}),
    ("rnn", {"cell": "gru", "hidden_factor": 2}),
    ("mamba2", {}),
    ("mamba2", {"headdim": 8, "d_state": 6, "chunk_size": 5}),
]


def gla_inputs(batch=2, length=21, heads=3, key_dim=4, value_dim=5, gate_scale=3.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k = (torch.randn(batch, length, heads, key_dim, generator=g) for _ in range(2))
    v = torch.randn(batch, length, heads, value_dim, generator=g)
    log_alpha = F.logsigmoid(torch.randn(batch, length, heads, key_dim, generator=g) * gate_scale)
    return q, k, v, log_alpha


@pytest.mark.parametrize("name,given", CONFIGS)
def test_block_is_causal_and_steps_like_its_forward(name, given):
    module = build(name, **given)
    x = random_tokens(length=37)
    assert module(x).shape == x.shape
    assert_causal(module, x, t=17)
    assert_step_matches_forward(module, x)
    assert_finite_gradients(module, x)


@pytest.mark.parametrize("chunk_size", [1, 4, 5, 16, 21, 64])
def test_gla_chunked_and_recurrent_equal_the_paper_loop(chunk_size):
    q, k, v, log_alpha = gla_inputs()
    naive = blocks.ops.gla_naive(q, k, v, log_alpha)
    torch.testing.assert_close(blocks.ops.gla_chunked(q, k, v, log_alpha, chunk_size), naive, atol=TOL, rtol=TOL)
    torch.testing.assert_close(blocks.ops.gla_recurrent(q, k, v, log_alpha), naive, atol=TOL, rtol=TOL)


def test_gla_chunked_stays_finite_when_gates_close_completely():
    """Log-space inside a chunk: decays of exp(-1000) per step neither overflow nor give NaN."""
    q, k, v, _ = gla_inputs(length=40)
    log_alpha = torch.full_like(q, -1000.0)
    out = blocks.ops.gla_chunked(q, k, v, log_alpha, 16)
    # With the memory wiped every step, o_t = (q_t . k_t) v_t.
    torch.testing.assert_close(out, torch.einsum("blhd,blhd->blh", q, k)[..., None] * v, atol=TOL, rtol=TOL)


def test_gla_decay_is_the_papers_low_rank_sigmoid_to_the_one_over_tau():
    module = build("gla")
    x = random_tokens(length=3)
    _, _, _, log_alpha = module._inputs(x)
    w1, w2 = module.gk_proj[0].weight, module.gk_proj[1]
    expected = torch.sigmoid(x @ w1.T @ w2.weight.T + w2.bias) ** (1 / 16)
    torch.testing.assert_close(log_alpha.exp().flatten(-2), expected, atol=TOL, rtol=TOL)
    assert module.gk_proj[0].out_features == 16


@pytest.mark.parametrize("name,d_model,given", [
    ("gla", 16, {}),
    ("gla", 24, {"heads": 3, "expand_k": 1.0, "gate_low_rank_dim": 4}),
    ("deltanet", 16, {}),
    ("deltanet", 24, {"heads": 3, "gated": True, "expand_v": 2.0}),
    ("rnn", 16, {}),
    ("rnn", 24, {"cell": "gru", "hidden_factor": 3}),
    ("mamba2", 16, {}),
    ("mamba2", 24, {"headdim": 12, "d_state": 8, "expand": 1}),
])
def test_cost_params_equal_the_built_module(name, d_model, given):
    assert_cost_params_exact(name, d_model, given)


def test_checks_and_constructor_refuse_indivisible_heads():
    assert check_fields("gla", 16, 32, {"heads": 3}) == ["heads"]
    assert check_fields("gla", 16, 32, {}) == []
    with pytest.raises(AssertionError, match="divide"):
        GatedLinearAttention(16, max_seq_len=32, heads=3)
    assert check_fields("deltanet", 16, 32, {"heads": 3}) == ["heads"]
    assert check_fields("deltanet", 16, 32, {"gated": True}) == []
    with pytest.raises(AssertionError, match="divide"):
        DeltaNet(16, max_seq_len=32, heads=3)


@pytest.mark.parametrize("name", ["gla", "deltanet", "rnn", "mamba2"])
def test_registry_entry_describes_the_block(name):
    entry = get_block(name)
    assert entry.family == ("ssm" if name == "mamba2" else "recurrent") and entry.causal is True and entry.recurrent is True
    assert entry.paper and entry.description and entry.complexity == "O(L)"
    for param in entry.params:
        assert param.help and param.check(param.default) is None
    params = entry.defaults()
    assert entry.cost(32, 512, params).flops_per_token == entry.cost(32, 4096, params).flops_per_token


def delta_inputs(batch=2, length=21, heads=3, key_dim=4, value_dim=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, k = (F.normalize(torch.randn(batch, length, heads, key_dim, generator=g), dim=-1) for _ in range(2))
    v = torch.randn(batch, length, heads, value_dim, generator=g)
    beta = torch.sigmoid(torch.randn(batch, length, heads, generator=g))
    log_alpha = F.logsigmoid(torch.randn(batch, length, heads, generator=g) * 3)
    return q, k, v, beta, log_alpha


@pytest.mark.parametrize("gated", [False, True])
@pytest.mark.parametrize("chunk_size", [1, 4, 5, 21, 64])
def test_delta_rule_chunked_and_recurrent_equal_the_paper_loop(gated, chunk_size):
    q, k, v, beta, log_alpha = delta_inputs()
    gate = log_alpha if gated else None
    naive = blocks.ops.delta_rule_naive(q, k, v, beta, gate)
    torch.testing.assert_close(blocks.ops.delta_rule_chunked(q, k, v, beta, gate, chunk_size), naive,
                               atol=TOL, rtol=TOL)
    torch.testing.assert_close(blocks.ops.delta_rule_recurrent(q, k, v, beta, gate), naive, atol=TOL, rtol=TOL)


def test_delta_rule_with_beta_one_overwrites_the_value_stored_under_a_key():
    """The delta rule's point: writing v' under the same unit key replaces v instead of adding to it."""
    key = F.normalize(torch.ones(1, 1, 1, 4), dim=-1)
    q = k = key.expand(1, 2, 1, 4)
    v = torch.tensor([[[[1.0, 2.0]], [[5.0, -1.0]]]])
    out = blocks.ops.delta_rule_chunked(q, k, v, torch.ones(1, 2, 1))
    torch.testing.assert_close(out[0, 1, 0], v[0, 1, 0], atol=TOL, rtol=TOL)


def test_gated_deltanet_marks_its_decay_parameters_like_the_reference():
    module = build("deltanet", gated=True)
    assert module.A_log._optim["weight_decay"] == 0.0 and module.dt_bias._optim["weight_decay"] == 0.0
    assert not hasattr(build("deltanet"), "A_log")


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_rnn_ops_equal_the_paper_loop_and_torch_reference(cell):
    """The op against the papers' equations per gate, and the block against torch.nn.LSTM / GRU
    loaded with the same weights."""
    module = build("rnn", cell=cell)
    x = random_tokens(length=13)
    weights = module._weights()
    run, naive = (blocks.ops.lstm, blocks.ops.lstm_naive) if cell == "lstm" else (blocks.ops.gru, blocks.ops.gru_naive)
    reference = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(16, 16, batch_first=True)
    reference.load_state_dict(dict(zip(("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"), weights)))
    with torch.no_grad():
        torch.testing.assert_close(run(x, *weights), naive(x, *weights), atol=TOL, rtol=TOL)
        torch.testing.assert_close(module(x), module.out_proj(reference(x)[0]), atol=TOL, rtol=TOL)
    assert len(module.init_state(2)) == (2 if cell == "lstm" else 1)  # (h, c) or (h,)


@pytest.mark.parametrize("chunk_size", [1, 4, 5, 21, 256])
def test_ssd_chunked_and_recurrent_equal_the_paper_loop(chunk_size):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 21, 3, 4, generator=g)
    dt = F.softplus(torch.randn(2, 21, 3, generator=g))
    A = -torch.rand(3, generator=g) * 8
    B, C = torch.randn(2, 21, 5, generator=g), torch.randn(2, 21, 5, generator=g)
    naive = blocks.ops.ssd_naive(x, dt, A, B, C)
    torch.testing.assert_close(blocks.ops.ssd_chunked(x, dt, A, B, C, chunk_size), naive, atol=TOL, rtol=TOL)
    torch.testing.assert_close(blocks.ops.ssd_recurrent(x, dt, A, B, C), naive, atol=TOL, rtol=TOL)


def test_mamba2_a_is_one_scalar_per_head_and_headdim_is_capped():
    module = build("mamba2", headdim=8)  # d_model 16, expand 2: 4 heads of 8
    assert module.heads == 4 and module.A_log.shape == (4,)
    assert build("mamba2").headdim == 32  # paper's 64 capped at the inner width
    assert check_fields("mamba2", 16, 32, {"headdim": 5}) == ["headdim"]
