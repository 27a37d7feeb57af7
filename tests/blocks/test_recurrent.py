"""The recurrent blocks (retnet, rwkv): causal, step-by-step equals forward, exact parameter cost."""
import math

import pytest
import torch

from blocks.library.recurrent.retnet_nn import RetNet
from blocks.library.recurrent.rwkv_nn import RWKV, wkv_chunked, wkv_step
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


def _rwkv4_reference(module, x):
    """RWKV-4's Block (BlinkDL/RWKV-LM, RWKV-v4/src/model.py) written from its equations, float64:
    x = x + att(ln1(x)); x = x + ffn(ln2(x)), with WKV from its definition (``_naive_wkv``)."""
    p = {name: t.detach().double() for name, t in module.named_parameters()}
    x = x.double()

    def layer_norm(h, name):
        return torch.nn.functional.layer_norm(h, h.shape[-1:], p[f"{name}.weight"], p[f"{name}.bias"], 1e-5)

    def shifted(h):  # nn.ZeroPad2d((0, 0, 1, -1)): the previous token, zeros at t = 0
        return torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)

    def mixed(h, mix):
        return h * mix + shifted(h) * (1 - mix)

    a = layer_norm(x, "ln1")
    k = mixed(a, p["time_mix.time_mix_k"]) @ p["time_mix.key.weight"].T
    v = mixed(a, p["time_mix.time_mix_v"]) @ p["time_mix.value.weight"].T
    r = torch.sigmoid(mixed(a, p["time_mix.time_mix_r"]) @ p["time_mix.receptance.weight"].T)
    wkv = _naive_wkv(torch.exp(p["time_mix.time_decay"]), p["time_mix.time_first"], k, v)
    x = x + (r * wkv) @ p["time_mix.output.weight"].T
    h = layer_norm(x, "ln2")
    key = torch.relu(mixed(h, p["channel_mix.time_mix_k"]) @ p["channel_mix.key.weight"].T) ** 2
    gate = torch.sigmoid(mixed(h, p["channel_mix.time_mix_r"]) @ p["channel_mix.receptance.weight"].T)
    return x + gate * (key @ p["channel_mix.value.weight"].T)


@pytest.mark.parametrize("layer_idx, n_layers", [(0, 1), (2, 5)])
def test_rwkv_equals_the_rwkv4_block(layer_idx, n_layers):
    """Channel mixing reads the residual stream after time mixing, as RWKV-4's Block."""
    module = RWKV(16, max_seq_len=32, layer_idx=layer_idx, n_layers=n_layers, seed=3, ffn_mult=2)
    with torch.no_grad():  # move the LayerNorm affines off (1, 0) so they are checked too
        for norm in (module.ln1, module.ln2):
            norm.weight.add_(torch.randn(16, generator=torch.Generator().manual_seed(4)) * 0.3)
            norm.bias.add_(torch.randn(16, generator=torch.Generator().manual_seed(5)) * 0.3)
    x = random_tokens(length=13) * 2
    with torch.no_grad():
        torch.testing.assert_close(module(x), _rwkv4_reference(module, x).float(), atol=TOL, rtol=TOL)
    assert_step_matches_forward(module, x)


@pytest.mark.parametrize("layer_id, n_layer", [(0, 1), (0, 4), (1, 4), (3, 4), (5, 12)])
def test_rwkv_init_follows_the_rwkv4_per_layer_schedule(layer_id, n_layer):
    """RWKV-4's 'fancy init', loop for loop: decay speed, bonus and the time_mix curves of both mixes."""
    d = 12
    module = RWKV(d, max_seq_len=32, layer_idx=layer_id, n_layers=n_layer)
    ratio_0_to_1 = layer_id / (n_layer - 1) if n_layer > 1 else 0.0  # RWKV-4 divides by zero at 1 layer
    ratio_1_to_almost0 = 1.0 - layer_id / n_layer
    decay_speed = torch.ones(d)
    for h in range(d):
        decay_speed[h] = -5 + 8 * (h / (d - 1)) ** (0.7 + 1.3 * ratio_0_to_1)
    zigzag = torch.tensor([(i + 1) % 3 - 1 for i in range(d)]) * 0.5
    x = torch.tensor([i / d for i in range(d)])
    att, ffn = module.time_mix, module.channel_mix
    expected = {
        att.time_decay: decay_speed,
        att.time_first: torch.ones(d) * math.log(0.3) + zigzag,
        att.time_mix_k: torch.pow(x, ratio_1_to_almost0),
        att.time_mix_v: torch.pow(x, ratio_1_to_almost0) + 0.3 * ratio_0_to_1,
        att.time_mix_r: torch.pow(x, 0.5 * ratio_1_to_almost0),
        ffn.time_mix_k: torch.pow(x, ratio_1_to_almost0),
        ffn.time_mix_r: torch.pow(x, ratio_1_to_almost0),
    }
    for param, value in expected.items():
        torch.testing.assert_close(param.detach(), value.float(), atol=1e-6, rtol=1e-6)


def test_compiler_and_export_give_rwkv_its_depth_in_the_model(tmp_path):
    """layer_idx counts sequence layers depth first; n_layers is their number after expanding repeats."""
    from blocks.compiler import compile_spec
    from blocks.export import EXPORT_CLASS, to_python
    from tests.blocks.conftest import make_spec
    from tests.blocks.test_export_diagram import load_source

    nodes = [{"id": "in", "type": "input"}, {"id": "m", "type": "mlp"},
             {"id": "r", "type": "repeat", "params": {"times": 3}},
             {"id": "r.rwkv", "type": "rwkv", "parent": "r", "params": {"ffn_mult": 1}},
             {"id": "out", "type": "output"}]
    spec = make_spec(nodes, [["in", "m"], ["m", "r"], ["r", "out"]])
    model = compile_spec(spec, vocab_size=11)
    for repetition, layer in enumerate(model.r.layers):
        expected = RWKV(16, max_seq_len=32, layer_idx=1 + repetition, n_layers=4, seed=1 + repetition, ffn_mult=1)
        torch.testing.assert_close(layer.r_rwkv.time_mix.time_mix_v, expected.time_mix.time_mix_v)
        torch.testing.assert_close(layer.r_rwkv.time_mix.time_decay, expected.time_mix.time_decay)
    exported = getattr(load_source(to_python(spec, 11), tmp_path, "exported_rwkv"), EXPORT_CLASS)()
    for name, tensor in model.state_dict().items():  # blocks are seeded: the same initial weights
        if ".r_rwkv." in name:
            torch.testing.assert_close(exported.state_dict()[name], tensor, msg=name)


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
    assert entry.module_class() in (RetNet, RWKV)
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
