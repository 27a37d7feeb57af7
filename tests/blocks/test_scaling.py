"""Matched size: scale_to resizes a spec to a parameter or state budget (within 3%), checked against
the compiled model, and refuses budgets it cannot reach with an error naming the field."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from blocks.compiler import compile_spec
from blocks.scaling import TOLERANCE, ScaleError, scale_to
from blocks.spec import SpecInvalid, validate_spec
from tests.blocks.block_checks import state_tensor_bytes
from tests.blocks.conftest import chain_spec

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REFERENCE = ("transformer", "mamba", "hyena", "rwkv", "retnet", "jamba_hybrid", "striped_hyena")
VOCAB = 256


def example(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


@pytest.mark.parametrize("budget", [100_000, 400_000])
@pytest.mark.parametrize("name", REFERENCE)
def test_reference_examples_scale_to_the_budget(name, budget):
    spec = example(name)
    before = copy.deepcopy(spec)
    scaled = scale_to(spec, params=budget, vocab_size=VOCAB)
    assert spec == before, "scale_to must not touch its input"
    model = compile_spec(scaled, vocab_size=VOCAB)
    counted = sum(p.numel() for p in model.parameters())
    assert abs(counted / budget - 1) <= TOLERANCE, f"{name}: {counted} parameters for a budget of {budget}"
    # Only the width (and an expansion, when the width alone misses) changed.
    assert scaled["edges"] == spec["edges"] and scaled.get("layout") == spec.get("layout")
    assert [n["type"] for n in scaled["nodes"]] == [n["type"] for n in spec["nodes"]]


def test_a_spec_already_in_budget_keeps_its_width_and_is_a_copy():
    spec = example("mamba")
    params = validate_spec(spec, vocab_size=VOCAB).cost.params
    scaled = scale_to(spec, params=params, vocab_size=VOCAB)
    assert scaled == spec and scaled is not spec and scaled["model"] is not spec["model"]


def test_width_keeps_every_check_happy():
    spec = example("transformer")  # 4 heads with rotary positions: d_model a multiple of 8
    for budget in (150_000, 250_000, 700_000):
        scaled = scale_to(spec, params=budget, vocab_size=VOCAB)
        assert scaled["model"]["d_model"] % 8 == 0
        assert validate_spec(scaled, vocab_size=VOCAB).ok


@pytest.mark.parametrize("name, budget", [("rwkv", 20_000), ("mamba", 3_000_000)])
def test_width_alone_when_it_is_close_enough(name, budget):
    scaled = scale_to(example(name), params=budget, vocab_size=VOCAB)
    params = validate_spec(scaled, vocab_size=VOCAB).cost.params
    assert abs(params / budget - 1) <= TOLERANCE
    assert [n.get("params") for n in scaled["nodes"]] == [n.get("params") for n in example(name)["nodes"]]


@pytest.mark.parametrize("budget", [1_000, 10**10])
def test_unreachable_parameter_budgets_name_the_field_and_the_range(budget):
    with pytest.raises(ScaleError) as caught:
        scale_to(example("transformer"), params=budget, vocab_size=VOCAB)
    assert caught.value.field == "params"
    assert "reachable by width" in caught.value.message and "d_model 8" in caught.value.message


def test_a_gap_between_widths_without_a_knob_is_refused():
    # rwkv has no float expansion; widths 9 and 10 give -8% and +7% of 5,000
    with pytest.raises(ScaleError) as caught:
        scale_to(example("rwkv"), params=5_000, vocab_size=VOCAB)
    assert caught.value.field == "params"
    assert "d_model 9" in caught.value.message and "d_model 10" in caught.value.message
    assert "no fractional knob" in caught.value.message


@pytest.mark.parametrize("name, budget", [("mamba", 100_000), ("rwkv", 10_000), ("retnet", 65_536)])
def test_state_budget_is_met_and_is_what_the_model_carries(name, budget):
    scaled = scale_to(example(name), state=budget, vocab_size=VOCAB)
    cost = validate_spec(scaled, vocab_size=VOCAB).cost
    assert abs(cost.state_bytes / budget - 1) <= TOLERANCE
    model = compile_spec(scaled, vocab_size=VOCAB)
    assert state_tensor_bytes(model.init_state(1, None, None)) == cost.state_bytes  # fixed-size states


def test_state_budgets_that_cannot_be_met():
    # softmax attention: 4,096 bytes per unit of width at L=256 and 2 layers; widths step by 8
    with pytest.raises(ScaleError) as caught:
        scale_to(example("transformer"), state=50_000, vocab_size=VOCAB)
    assert caught.value.field == "state" and "no fractional knob changes the state" in caught.value.message
    with pytest.raises(ScaleError) as caught:
        scale_to(chain_spec("mlp"), state=1_000, vocab_size=VOCAB)
    assert caught.value.field == "state" and "no inference state" in caught.value.message


def test_causality_is_not_the_size_search_business():
    spec = chain_spec("fnet", "mlp", d_model=32, max_seq_len=64)  # FNet sees the future
    assert not validate_spec(spec, vocab_size=VOCAB).ok
    scaled = scale_to(spec, params=30_000, vocab_size=VOCAB)
    assert "allow_noncausal" not in scaled["model"]
    with_flag = dict(scaled, model={**scaled["model"], "allow_noncausal": True})
    assert abs(validate_spec(with_flag, vocab_size=VOCAB).cost.params / 30_000 - 1) <= TOLERANCE


def test_bad_calls():
    spec = example("transformer")
    with pytest.raises(TypeError):
        scale_to(spec, vocab_size=VOCAB)
    with pytest.raises(TypeError):
        scale_to(spec, params=1e5, state=1e5, vocab_size=VOCAB)
    with pytest.raises(ScaleError) as caught:
        scale_to(spec, params=0)
    assert caught.value.field == "params"
    broken = copy.deepcopy(spec)
    broken["model"]["d_model"] = 60  # 4 heads with rotary need a multiple of 8
    with pytest.raises(SpecInvalid):
        scale_to(broken, params=1e5)


def test_knobs_too_coarse_together_are_tuned_one_at_a_time():
    """Jamba-like at 120k: d_model 40 gives 106,680 and 48 gives 144,528; scaling every expansion
    together moves in steps of ~8,600 (a hidden unit per expert per MoE layer), which jumps over
    the 3% window, so one expansion alone has to close the gap."""
    spec = example("jamba_hybrid")
    spec["model"]["max_seq_len"] = 64
    scaled = scale_to(spec, params=120_000, vocab_size=VOCAB)
    counted = sum(p.numel() for p in compile_spec(scaled, vocab_size=VOCAB).parameters())
    assert abs(counted / 120_000 - 1) <= TOLERANCE
    expansions = {n["id"]: n["params"]["expansion"] for n in scaled["nodes"] if "expansion" in (n.get("params") or {})}
    assert sum(value != 2.0 for value in expansions.values()) == 1, expansions
