"""compile_spec: seeded weights, structural semantics (residual, merge, repeat, chunk, tying), step API, fx code."""
from __future__ import annotations

import copy

import pytest
import torch

from blocks.compiler import ComposerModel, PreNormResidual, compile_spec, module_name
from blocks.spec import SpecInvalid, UNKNOWN_TYPE
from tests.blocks.conftest import TINY_VOCAB, chain_spec, make_spec


def tokens(batch=2, length=12, seed=0) -> torch.Tensor:
    return torch.randint(0, TINY_VOCAB, (batch, length), generator=torch.Generator().manual_seed(seed))


def test_compiles_to_logits_of_the_right_shape(mlp_chain):
    model = compile_spec(mlp_chain, vocab_size=TINY_VOCAB)
    assert isinstance(model, ComposerModel)
    assert model(tokens()).shape == (2, 12, TINY_VOCAB)


def test_an_invalid_spec_raises_with_every_error():
    spec = chain_spec("nope", {"type": "mlp", "params": {"bias": 3}})
    with pytest.raises(SpecInvalid) as raised:
        compile_spec(spec, vocab_size=TINY_VOCAB)
    assert UNKNOWN_TYPE in {e.code for e in raised.value.errors} and len(raised.value.errors) == 2


def test_same_seed_same_weights_other_seed_other_weights(hybrid_spec):
    a = compile_spec(hybrid_spec, vocab_size=TINY_VOCAB, seed=3).state_dict()
    b = compile_spec(hybrid_spec, vocab_size=TINY_VOCAB, seed=3).state_dict()
    c = compile_spec(hybrid_spec, vocab_size=TINY_VOCAB, seed=4).state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], c[k]) for k in a)


def test_compiling_leaves_the_global_rng_alone(mlp_chain):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    compile_spec(mlp_chain, vocab_size=TINY_VOCAB)
    assert torch.equal(torch.rand(3), expected)


def test_residual_blocks_are_pre_norm_residual(mlp_chain):
    model = compile_spec(mlp_chain, vocab_size=TINY_VOCAB)
    assert isinstance(model.b0, PreNormResidual)
    # Zeroing the block's output projection makes the layer the identity: x + 0.
    with torch.no_grad():
        model.b0.block.ffn.down.weight.zero_()
    x = torch.randn(2, 5, 16)
    assert torch.equal(model.b0(x), x)


def test_tied_embeddings_share_one_tensor(mlp_chain):
    tied = compile_spec(mlp_chain, vocab_size=TINY_VOCAB)
    assert tied.out.lm_head.weight is tied.n_in.tokens.weight
    mlp_chain["model"]["tie_embeddings"] = False
    untied = compile_spec(mlp_chain, vocab_size=TINY_VOCAB)
    assert untied.out.lm_head.weight is not untied.n_in.tokens.weight
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(untied) - count(tied) == TINY_VOCAB * 16


def test_learned_positions_make_the_model_position_aware():
    spec = chain_spec("mlp")
    same = torch.full((1, 6), 3)
    plain = compile_spec(spec, vocab_size=TINY_VOCAB)(same)
    assert torch.allclose(plain[0, 0], plain[0, 5])  # an MLP-only model cannot tell positions apart
    spec["nodes"][0]["params"] = {"positions": "learned"}
    positional = compile_spec(spec, vocab_size=TINY_VOCAB)(same)
    assert not torch.allclose(positional[0, 0], positional[0, 5])


def merge_spec(mode: str) -> dict:
    return make_spec(
        [{"id": "in", "type": "input"}, {"id": "a", "type": "mlp"}, {"id": "b", "type": "mlp"},
         {"id": "m", "type": "merge", "params": {"mode": mode}}, {"id": "out", "type": "output"}],
        [["in", "a"], ["in", "b"], ["a", "m"], ["b", "m"], ["m", "out"]])


def test_merge_modes_combine_their_inputs():
    x, y = torch.randn(2, 3, 16), torch.randn(2, 3, 16)
    assert torch.allclose(compile_spec(merge_spec("sum"), vocab_size=TINY_VOCAB).m(x, y), x + y)
    assert torch.allclose(compile_spec(merge_spec("mean"), vocab_size=TINY_VOCAB).m(x, y), (x + y) / 2)
    gated = compile_spec(merge_spec("gated"), vocab_size=TINY_VOCAB).m
    with torch.no_grad():
        gated.proj.weight.zero_()
        gated.proj.bias.copy_(torch.tensor([0.0, 100.0]))
    assert torch.allclose(gated(x, y), y, atol=1e-5)  # the gate picks the second input
    concat = compile_spec(merge_spec("concat"), vocab_size=TINY_VOCAB).m
    with torch.no_grad():
        concat.proj.weight.copy_(torch.cat([torch.eye(16), torch.zeros(16, 16)], dim=1))
        concat.proj.bias.zero_()
    assert torch.allclose(concat(x, y), x)


def test_repeat_has_independent_weights_per_repetition():
    spec = make_spec(
        [{"id": "in", "type": "input"}, {"id": "r", "type": "repeat", "params": {"times": 3}},
         {"id": "r.m", "type": "mlp", "parent": "r"}, {"id": "out", "type": "output"}],
        [["in", "r"], ["r", "out"]])
    model = compile_spec(spec, vocab_size=TINY_VOCAB)
    weights = [layer.r_m.block.ffn.up.weight for layer in model.r.layers]
    assert len(weights) == 3
    assert not torch.equal(weights[0], weights[1]) and weights[0] is not weights[1]
    # Applying the three repetitions in turn is what the repeat does.
    x = torch.randn(1, 4, 16)
    expected = model.r.layers[2](model.r.layers[1](model.r.layers[0](x)))
    assert torch.allclose(model.r(x), expected)


def chunk_spec(summary: str, chunk_size=4, with_global=True) -> dict:
    nodes = [{"id": "in", "type": "input"},
             {"id": "c", "type": "chunk", "params": {"chunk_size": chunk_size, "summary": summary}},
             {"id": "c.l", "type": "mlp", "parent": "c", "slot": "local"}]
    if with_global:
        nodes.append({"id": "c.g", "type": "mlp", "parent": "c", "slot": "global"})
    nodes.append({"id": "out", "type": "output"})
    return make_spec(nodes, [["in", "c"], ["c", "out"]])


@pytest.mark.parametrize("summary", ["mean", "last", "attention"])
@pytest.mark.parametrize("length", [12, 10])  # a multiple of the chunk size, and a padded one
def test_chunk_is_causal(summary, length):
    model = compile_spec(chunk_spec(summary), vocab_size=TINY_VOCAB)
    with torch.no_grad():
        if model.c.pool_query is not None:
            model.c.pool_query.normal_()
    x = tokens(1, length)
    base = model(x)
    for t in range(length - 1):
        changed = x.clone()
        changed[0, t + 1:] = (changed[0, t + 1:] + 1) % TINY_VOCAB
        assert torch.allclose(model(changed)[0, : t + 1], base[0, : t + 1], atol=1e-6), f"leak at {t}"


def test_chunk_passes_summaries_to_later_chunks_only():
    model = compile_spec(chunk_spec("mean", with_global=False), vocab_size=TINY_VOCAB)
    x = torch.randn(1, 8, 16)
    out = model.c(x)
    local = model.c.local(x.reshape(2, 4, 16)).reshape(1, 8, 16)
    assert torch.allclose(out[:, :4], local[:, :4])  # chunk 0 sees no summary
    assert torch.allclose(out[:, 4:], local[:, 4:] + local[:, :4].mean(1, keepdim=True), atol=1e-6)


def test_aux_loss_sums_what_blocks_set(mlp_chain):
    model = compile_spec(mlp_chain, vocab_size=TINY_VOCAB)
    assert model.aux_loss().item() == 0.0
    model.b0.block.aux_loss = torch.tensor(0.25)
    model.b1.block.aux_loss = torch.tensor(0.5)
    assert model.aux_loss().item() == pytest.approx(0.75)


def test_node_summary_matches_each_built_module(hybrid_spec):
    model = compile_spec(hybrid_spec, vocab_size=TINY_VOCAB)
    rows = {row["id"]: row for row in model.node_summary()}
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert rows["side"]["params"] == count(model.side)
    assert rows["m"]["params"] == count(model.m)
    assert rows["r.a"]["params"] == sum(count(layer.r_a) for layer in model.r.layers)
    assert rows["c.global"]["params"] == count(model.c.global_.c_global)
    assert all(row["flops_per_token"] >= 0 for row in rows.values())


def test_step_equals_forward_for_recurrent_specs(hybrid_spec):
    # The chunk group has no step form: take it out of the hybrid.
    hybrid_spec["nodes"] = [n for n in hybrid_spec["nodes"] if not n["id"].startswith("c")]
    hybrid_spec["edges"] = [e for e in hybrid_spec["edges"] if "c" not in e] + [["m", "n"]]
    model = compile_spec(hybrid_spec, vocab_size=TINY_VOCAB)
    assert model.supports_step
    x = tokens(2, 9)
    state = model.init_state(2)
    stepped = []
    for t in range(9):
        logits, state = model.step(x[:, t], state)
        stepped.append(logits)
    assert torch.allclose(torch.stack(stepped, 1), model(x), atol=1e-5)


def test_step_is_refused_for_chunked_specs():
    model = compile_spec(chunk_spec("mean"), vocab_size=TINY_VOCAB)
    assert not model.supports_step
    with pytest.raises(NotImplementedError):
        model.init_state(1)


def test_forward_code_is_readable_and_deepcopy_keeps_the_model(hybrid_spec):
    model = compile_spec(hybrid_spec, vocab_size=TINY_VOCAB)
    assert "m = self.m(r, side)" in model.code
    clone = copy.deepcopy(model)
    assert isinstance(clone, ComposerModel) and clone.spec == model.spec
    x = tokens()
    assert torch.equal(clone(x), model(x))


def test_module_names_are_identifiers_and_unique():
    taken: set[str] = set()
    names = [module_name(i, taken) for i in ["in", "a.b", "a_b", "9lives", "forward", "ünï", "a b",
                                              "_parameters", "zero_grad"]]
    assert all(n.isidentifier() for n in names) and len(set(names)) == len(names)
    assert names[0] != "in" and names[1] != names[2]
    assert not {"forward", "_parameters", "zero_grad"} & set(names)


def test_gradients_flow_to_every_parameter(hybrid_spec):
    model = compile_spec(hybrid_spec, vocab_size=TINY_VOCAB)
    with torch.no_grad():
        model.c.pool_query.normal_()  # zero query has a zero gradient by symmetry of the mean
    x = tokens()
    loss = torch.nn.functional.cross_entropy(model(x).flatten(0, 1), x.flatten())
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


def test_over_limit_specs_are_refused_before_any_module_is_built(monkeypatch):
    def no_building(*args, **kwargs):
        raise AssertionError("a module was built before validation refused the spec")

    monkeypatch.setattr(torch.nn.Module, "__init__", no_building)
    spec = chain_spec("mlp", d_model=4096, max_seq_len=65536)
    with pytest.raises(SpecInvalid) as raised:
        compile_spec(spec, vocab_size=50000)
    assert "too_much_memory" in {e.code for e in raised.value.errors}
