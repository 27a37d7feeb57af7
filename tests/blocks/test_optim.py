"""Which parameters of each block are decayed, and which train at a capped learning rate
(blocks.optim), as the blocks' reference code marks them."""
from __future__ import annotations

import pytest
import torch

from blocks.compiler import compile_spec
from blocks.optim import SSM_LR_MAX, param_groups, param_rules
from tests.blocks.block_checks import build
from tests.blocks.conftest import sequence_blocks

# name -> (not decayed, capped at SSM_LR_MAX): the parameters the reference implementations exempt.
EXPECTED_EXEMPT = {
    "mamba": ({"A_log", "D", "conv1d.bias", "dt_proj.bias"}, set()),
    "s4d": ({"log_dt", "A_real_log", "A_imag", "C", "D", "output_linear.bias"}, {"log_dt", "A_real_log", "A_imag"}),
    "h3": ({"ssm.log_dt", "ssm.A_real_log", "ssm.A_imag", "ssm.C", "ssm.D"},
           {"ssm.log_dt", "ssm.A_real_log", "ssm.A_imag"}),
    "hyena": (None, None),  # checked below: every implicit-filter parameter
    "softmax_attention": (set(), set()),
    "gla": ({"gk_proj.1.bias", "norm_weight"}, set()),
    "mamba2": ({"A_log", "D", "dt_bias", "conv1d.bias", "norm_weight"}, set()),
    "rnn": ({"bias_ih", "bias_hh"}, set()),  # torch.nn.LSTM marks nothing: its biases are vectors
    "deltanet": ({"norm_weight"}, set()),  # gated: A_log and dt_bias too, tested in test_gated_recurrent  # fla marks nothing: vectors only, gate matrices decayed
}


def rules_of(module):
    return {rule.name: rule for rule in param_rules(module)}


@pytest.mark.parametrize("name", sorted(EXPECTED_EXEMPT))
def test_reference_exemptions(name):
    rules = rules_of(build(name))
    exempt = {n for n, r in rules.items() if not r.decayed}
    capped = {n for n, r in rules.items() if r.lr_max is not None}
    expected_exempt, expected_capped = EXPECTED_EXEMPT[name]
    if name == "hyena":
        filter_params = {n for n in rules if ".filter.ffn." in n or n.startswith("filter.ffn.")}
        assert filter_params, sorted(rules)
        assert filter_params <= exempt and filter_params <= capped
        assert all(rules[n].lr_max == SSM_LR_MAX for n in filter_params)
        assert any(r.decayed for r in rules.values()), "Hyena's projections are still decayed"
        return
    # Projections of an h3 block carry their own biases etc.; compare the SSM part only there.
    if name == "h3":
        exempt = {n for n in exempt if n.startswith("ssm.")}
    assert exempt == expected_exempt
    assert capped == expected_capped
    assert all(rules[n].lr_max == SSM_LR_MAX for n in capped)
    assert any(r.decayed for r in rules.values()), f"{name} has matrices that must stay decayed"


@pytest.mark.parametrize("entry", sequence_blocks(), ids=lambda e: e.name)
def test_vectors_are_never_decayed_and_hints_win(entry):
    module = build(entry.name)
    for name, param in module.named_parameters():
        rule = rules_of(module)[name]
        hinted = getattr(param, "_optim", None)
        if hinted is not None:
            assert rule.decayed == ((hinted["weight_decay"] or 0) > 0), name
        elif param.dim() < 2:
            assert not rule.decayed, name
        else:
            assert rule.decayed, name


def test_embeddings_of_a_compiled_model_are_not_decayed_and_groups_cap_the_lr():
    spec = {
        "version": 1,
        "model": {"d_model": 16, "max_seq_len": 32},
        "nodes": [{"id": "in", "type": "input", "params": {"positions": "learned"}},
                  {"id": "s", "type": "s4d"}, {"id": "a", "type": "softmax_attention"}, {"id": "out", "type": "output"}],
        "edges": [["in", "s"], ["s", "a"], ["a", "out"]],
    }
    model = compile_spec(spec, vocab_size=11)
    rules = rules_of(model)
    embeddings = [n for n in rules if "tokens.weight" in n or "positions.weight" in n]
    assert len(embeddings) == 2 and not any(rules[n].decayed for n in embeddings)
    groups = param_groups(model, weight_decay=0.1, lr=3e-3)
    by_key = {(g["weight_decay"], g["lr_scale"]): g for g in groups}
    assert (0.0, pytest.approx(1 / 3)) in [(k[0], k[1]) for k in by_key]
    capped = next(g for g in groups if g["lr_scale"] < 1)
    assert capped["weight_decay"] == 0.0 and all("A_" in n or "log_dt" in n for n in capped["names"])
    # Every parameter lands in exactly one group.
    assert sum(len(g["params"]) for g in groups) == len(list(model.parameters()))
    # Below the cap nothing is scaled.
    assert all(g["lr_scale"] == 1.0 for g in param_groups(model, weight_decay=0.1, lr=1e-4))


def test_trainer_applies_the_cap_at_every_step(monkeypatch):
    from workers import trainer

    seen = []
    real_step = torch.optim.AdamW.step

    def record(self, *args, **kwargs):
        seen.append({g["lr_scale"]: g["lr"] for g in self.param_groups})
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", record)
    spec = {"version": 1, "model": {"d_model": 16, "max_seq_len": 64},
            "nodes": [{"id": "in", "type": "input"}, {"id": "s", "type": "s4d"}, {"id": "out", "type": "output"}],
            "edges": [["in", "s"], ["s", "out"]]}
    trainer.train(spec, "mqar", {"seq_len": 32, "num_kv_pairs": 2, "vocab_size": 64},
                  {"steps": 3, "batch_size": 2, "lr": 4e-3, "warmup_steps": 0, "eval_batches": 1})
    assert len(seen) == 3
    for lrs in seen:
        full = lrs[1.0]
        assert lrs[0.25] == pytest.approx(full * 0.25)
