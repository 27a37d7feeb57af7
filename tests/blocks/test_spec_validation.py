"""validate_spec: every kind of error is reported with its node, field and code; all at once; costs are exact."""
from __future__ import annotations

import json

import pytest

from blocks import spec as S
from blocks.compiler import compile_spec
from blocks.registry import all_blocks
from blocks.spec import Limits, spec_json_schema, spec_json_schema_text, validate_spec
from tests.blocks.conftest import TINY_VOCAB, chain_spec, make_spec


def codes(result) -> set[str]:
    return {e.code for e in result.errors}


def error_for(result, code: str):
    found = [e for e in result.errors if e.code == code]
    assert found, f"no {code} among {result.errors}"
    return found[0]


def test_a_plain_chain_is_valid_and_has_a_cost(mlp_chain):
    result = validate_spec(mlp_chain)
    assert result.ok and result.errors == []
    assert result.cost.params > 0 and result.cost.flops_per_token > 0 and result.cost.activation_bytes > 0
    assert result.cost.complexity == "O(L)"
    assert [row["id"] for row in result.cost.per_node] == ["in", "b0", "b1", "out"]
    assert result.spec["nodes"][1]["params"] == {"activation": "swiglu", "expansion": 4.0, "bias": False}


@pytest.mark.parametrize("value", [None, [], "spec", 3, 2.5, True])
def test_a_spec_that_is_not_an_object_is_refused(value):
    result = validate_spec(value)
    assert not result.ok and codes(result) == {S.NOT_AN_OBJECT}


def test_missing_top_level_keys_each_get_an_error():
    result = validate_spec({})
    assert {(e.field, e.code) for e in result.errors} == {
        ("version", S.MISSING_FIELD), ("model", S.MISSING_FIELD), ("nodes", S.MISSING_FIELD),
        ("edges", S.MISSING_FIELD)}


def test_wrong_version_unknown_key_and_bad_layout(mlp_chain):
    mlp_chain.update(version=2, extra=1, layout=[1])
    result = validate_spec(mlp_chain)
    assert {(e.field, e.code) for e in result.errors} == {
        ("version", S.BAD_VERSION), ("extra", S.UNKNOWN_FIELD), ("layout", S.WRONG_TYPE)}


def test_layout_never_changes_validity_or_cost(mlp_chain):
    plain = validate_spec(mlp_chain)
    mlp_chain["layout"] = {"b0": {"x": 10, "y": -3}, "ghost": {"x": 1}}
    with_layout = validate_spec(mlp_chain)
    assert with_layout.ok and with_layout.cost.to_json() == plain.cost.to_json()


@pytest.mark.parametrize("field,value,code", [
    ("d_model", "wide", S.BAD_MODEL_FIELD),
    ("d_model", 4, S.BAD_MODEL_FIELD),
    ("d_model", True, S.BAD_MODEL_FIELD),
    ("max_seq_len", 10**6, S.BAD_MODEL_FIELD),
    ("norm", "batchnorm", S.BAD_MODEL_FIELD),
    ("tie_embeddings", "yes", S.BAD_MODEL_FIELD),
    ("dropout", 0.1, S.UNKNOWN_FIELD),
])
def test_bad_model_fields_name_the_field(mlp_chain, field, value, code):
    mlp_chain["model"][field] = value
    error = error_for(validate_spec(mlp_chain), code)
    assert error.field == f"model.{field}" and error.node_id is None


def test_missing_model_fields_are_reported():
    spec = chain_spec("mlp")
    del spec["model"]["d_model"]
    error = error_for(validate_spec(spec), S.MISSING_FIELD)
    assert error.field == "model.d_model"


def test_limits_on_d_model_and_seq_len():
    spec = chain_spec("mlp", d_model=64, max_seq_len=128)
    result = validate_spec(spec, limits=Limits(max_d_model=32, max_seq_len=64))
    assert {(e.field, e.code) for e in result.errors} == {
        ("model.d_model", S.D_MODEL_LIMIT), ("model.max_seq_len", S.SEQ_LEN_LIMIT)}


def test_node_errors_name_the_node_and_field():
    nodes = [
        {"id": "in", "type": "input"},
        {"id": "a", "type": "no_such_block"},
        {"id": "b", "type": "mlp", "params": {"expansion": 1000, "colour": "red", "bias": "no"}},
        {"id": "b", "type": "mlp"},
        {"type": "mlp"},
        {"id": "c", "type": "mlp", "params": [1]},
        {"id": "d", "type": "mlp", "oops": 1},
        {"id": "out", "type": "output"},
    ]
    result = validate_spec(make_spec(nodes, [["in", "a"], ["a", "b"], ["b", "c"], ["c", "d"], ["d", "out"]]))
    found = {(e.node_id, e.field, e.code) for e in result.errors}
    assert found >= {
        ("a", "type", S.UNKNOWN_TYPE),
        ("b", "params.expansion", S.BAD_PARAM),
        ("b", "params.colour", S.UNKNOWN_PARAM),
        ("b", "params.bias", S.BAD_PARAM),
        ("b", "id", S.DUPLICATE_ID),
        (None, "nodes[4].id", S.MISSING_ID),
        ("c", "params", S.WRONG_TYPE),
        ("d", "oops", S.UNKNOWN_FIELD),
    }
    message = error_for(result, S.BAD_PARAM).message
    assert "expansion" in message and "16" in message


def test_wrong_typed_int_param_is_refused_but_whole_float_is_accepted():
    spec = make_spec(
        [{"id": "in", "type": "input"}, {"id": "r", "type": "repeat", "params": {"times": 2.0}},
         {"id": "r.m", "type": "mlp", "parent": "r"}, {"id": "out", "type": "output"}],
        [["in", "r"], ["r", "out"]])
    assert validate_spec(spec).ok
    spec["nodes"][1]["params"]["times"] = 2.5
    assert error_for(validate_spec(spec), S.BAD_PARAM).field == "params.times"


def test_registry_check_failures_are_reported_as_block_check():
    spec = make_spec(
        [{"id": "in", "type": "input"}, {"id": "c", "type": "chunk", "params": {"chunk_size": 64}},
         {"id": "c.l", "type": "mlp", "parent": "c", "slot": "local"}, {"id": "out", "type": "output"}],
        [["in", "c"], ["c", "out"]])
    error = error_for(validate_spec(spec), S.BLOCK_CHECK)
    assert (error.node_id, error.field) == ("c", "params.chunk_size")


def test_edge_errors():
    spec = chain_spec("mlp")
    spec["edges"] += [["b0", "ghost"], "in->out", ["in", 3], ["in", "b0"], ["b0", "b0"]]
    found = {(e.node_id, e.field, e.code) for e in validate_spec(spec).errors}
    assert found >= {
        ("ghost", "edges[2]", S.UNKNOWN_NODE),
        (None, "edges[3]", S.BAD_EDGE),
        (None, "edges[4]", S.BAD_EDGE),
        ("b0", "edges[5]", S.DUPLICATE_EDGE),
        ("b0", "edges[6]", S.CYCLE),
    }


def test_a_cycle_is_found():
    spec = chain_spec("mlp", "mlp", "mlp")
    spec["nodes"].insert(3, {"id": "m", "type": "merge"})
    spec["edges"] = [["in", "m"], ["m", "b0"], ["b0", "b1"], ["b1", "m"], ["b1", "b2"], ["b2", "out"]]
    assert S.CYCLE in codes(validate_spec(spec))


def test_dangling_nodes_are_named():
    spec = chain_spec("mlp")
    spec["nodes"] += [{"id": "island", "type": "mlp"}, {"id": "deadend", "type": "mlp"}]
    spec["edges"].append(["b0", "deadend"])
    result = validate_spec(spec)
    assert {e.node_id for e in result.errors if e.code == S.DANGLING} == {"island", "deadend"}


def test_only_a_merge_may_have_several_inputs():
    spec = make_spec(
        [{"id": "in", "type": "input"}, {"id": "a", "type": "mlp"}, {"id": "b", "type": "mlp"},
         {"id": "c", "type": "mlp"}, {"id": "out", "type": "output"}],
        [["in", "a"], ["in", "b"], ["a", "c"], ["b", "c"], ["c", "out"]])
    error = error_for(validate_spec(spec), S.MULTIPLE_INCOMING)
    assert error.node_id == "c"
    spec["nodes"][3]["type"] = "merge"
    assert validate_spec(spec).ok


def test_several_inputs_are_the_registrys_many_inputs_flag_served_to_the_editor():
    from blocks.registry import all_blocks, get_block

    assert {b.name for b in all_blocks() if b.many_inputs} == {"merge"}
    assert get_block("merge").to_json()["many_inputs"] is True
    assert get_block("mlp").to_json()["many_inputs"] is False


def test_a_merge_with_one_input_is_refused():
    spec = chain_spec("merge")
    assert error_for(validate_spec(spec), S.MERGE_TOO_FEW_INPUTS).node_id == "b0"


def test_missing_and_multiple_inputs_and_outputs():
    spec = make_spec([{"id": "a", "type": "mlp"}], [])
    assert {S.MISSING_INPUT, S.MISSING_OUTPUT} <= codes(validate_spec(spec))
    spec = chain_spec("mlp")
    spec["nodes"] += [{"id": "in2", "type": "input"}, {"id": "out2", "type": "output"}]
    result = validate_spec(spec)
    assert error_for(result, S.MULTIPLE_INPUTS).node_id == "in2"
    assert error_for(result, S.MULTIPLE_OUTPUTS).node_id == "out2"


def test_input_with_incoming_and_output_with_outgoing_edges():
    spec = chain_spec("mlp")
    spec["nodes"].insert(1, {"id": "m", "type": "merge"})
    spec["edges"] = [["in", "b0"], ["b0", "out"], ["out", "in"]]
    result = validate_spec(spec)
    assert {S.INPUT_HAS_INCOMING, S.OUTPUT_HAS_OUTGOING} <= codes(result)


def repeat_spec(children: list[dict], inner_edges: list[list[str]]) -> dict:
    nodes = [{"id": "in", "type": "input"}, {"id": "r", "type": "repeat", "params": {"times": 3}}]
    nodes += [{**c, "parent": "r"} for c in children]
    nodes.append({"id": "out", "type": "output"})
    return make_spec(nodes, [["in", "r"], ["r", "out"], *inner_edges])


def test_edges_may_not_cross_a_group_boundary():
    spec = repeat_spec([{"id": "r.a", "type": "mlp"}], [["in", "r.a"]])
    error = error_for(validate_spec(spec), S.CROSS_GROUP_EDGE)
    assert (error.node_id, error.field) == ("r.a", "edges[2]")


def test_an_empty_group_is_refused():
    error = error_for(validate_spec(repeat_spec([], [])), S.EMPTY_GROUP)
    assert error.node_id == "r"


def test_a_group_needs_one_source_and_one_sink():
    spec = repeat_spec([{"id": "r.a", "type": "mlp"}, {"id": "r.b", "type": "mlp"}], [])
    result = validate_spec(spec)
    assert error_for(result, S.GROUP_SOURCES).node_id == "r"
    assert error_for(result, S.GROUP_SINKS).node_id == "r"


def test_parent_and_slot_errors():
    nodes = [
        {"id": "in", "type": "input"}, {"id": "a", "type": "mlp"},
        {"id": "x", "type": "mlp", "parent": "a"},
        {"id": "y", "type": "mlp", "parent": "ghost"},
        {"id": "c", "type": "chunk"},
        {"id": "z", "type": "mlp", "parent": "c"},
        {"id": "w", "type": "mlp", "slot": "local"},
        {"id": "o2", "type": "output", "parent": "c", "slot": "local"},
        {"id": "out", "type": "output"},
    ]
    found = {(e.node_id, e.field, e.code) for e in validate_spec(make_spec(nodes, [])).errors}
    assert found >= {
        ("x", "parent", S.BAD_PARENT), ("y", "parent", S.BAD_PARENT), ("z", "slot", S.BAD_SLOT),
        ("w", "slot", S.BAD_SLOT), ("o2", "parent", S.MISPLACED_STRUCTURAL), ("c", "slot.local", S.EMPTY_GROUP),
    }


def test_parent_loops_are_refused_without_hanging():
    nodes = [{"id": "in", "type": "input"}, {"id": "r1", "type": "repeat", "parent": "r2"},
             {"id": "r2", "type": "repeat", "parent": "r1"}, {"id": "out", "type": "output"}]
    assert S.BAD_PARENT in codes(validate_spec(make_spec(nodes, [["in", "out"]])))


def nested_repeats(depth: int) -> dict:
    nodes = [{"id": "in", "type": "input"}, {"id": "g0", "type": "repeat", "params": {"times": 1}}]
    for level in range(1, depth):
        nodes.append({"id": f"g{level}", "type": "repeat", "params": {"times": 1}, "parent": f"g{level - 1}"})
    nodes.append({"id": "leaf", "type": "mlp", "parent": f"g{depth - 1}"})
    nodes.append({"id": "out", "type": "output"})
    return make_spec(nodes, [["in", "g0"], ["g0", "out"]])


def test_nesting_depth_limit():
    assert validate_spec(nested_repeats(3), limits=Limits(max_depth=3)).ok
    error = error_for(validate_spec(nested_repeats(5), limits=Limits(max_depth=3)), S.TOO_DEEP)
    assert error.field == "parent"


def test_node_and_layer_limits_count_repeats():
    spec = repeat_spec([{"id": "r.a", "type": "mlp"}, {"id": "r.b", "type": "mlp"}], [["r.a", "r.b"]])
    assert validate_spec(spec, limits=Limits(max_layers=6)).ok  # 3 x 2
    assert S.TOO_MANY_LAYERS in codes(validate_spec(spec, limits=Limits(max_layers=5)))
    assert S.TOO_MANY_NODES in codes(validate_spec(spec, limits=Limits(max_nodes=4)))


def test_param_and_memory_limits_are_checked_without_building(monkeypatch):
    spec = chain_spec("mlp", d_model=4096, max_seq_len=65536)
    # A model this size would take gigabytes: validation must refuse it by arithmetic alone.
    import torch

    def no_tensors(*args, **kwargs):
        raise AssertionError("validation allocated a tensor")

    monkeypatch.setattr(torch, "empty", no_tensors)
    monkeypatch.setattr(torch, "zeros", no_tensors)
    result = validate_spec(spec, vocab_size=50000, limits=Limits(max_params=10**8,
                                                                 max_activation_bytes=2**30))
    assert {S.TOO_MANY_PARAMS, S.TOO_MUCH_MEMORY} <= codes(result)
    assert result.cost.params > 10**8 and result.cost.activation_bytes > 2**30


def test_noncausal_blocks_need_allow_noncausal():
    noncausal = [b for b in all_blocks() if not b.structural and b.causal is False]
    if not noncausal:
        pytest.skip("no non-causal block registered yet")
    spec = chain_spec(noncausal[0].name, d_model=32, max_seq_len=32)
    error = error_for(validate_spec(spec), S.NONCAUSAL)
    assert (error.node_id, error.field) == ("b0", "type")
    spec["model"]["allow_noncausal"] = True
    assert S.NONCAUSAL not in codes(validate_spec(spec))


def test_every_error_is_returned_at_once():
    spec = chain_spec("mlp", "nope", {"type": "mlp", "params": {"expansion": -1}})
    spec["model"]["norm"] = "weird"
    spec["edges"].append(["b0", "ghost"])
    result = validate_spec(spec)
    assert {S.BAD_MODEL_FIELD, S.UNKNOWN_TYPE, S.BAD_PARAM, S.UNKNOWN_NODE} <= codes(result)
    assert result.cost is None
    for error in result.errors:
        assert set(error.to_json()) == {"node_id", "field", "message", "code"}
        json.dumps(error.to_json())


def test_bad_vocab_size_is_an_error_not_an_exception(mlp_chain):
    assert error_for(validate_spec(mlp_chain, vocab_size=0), S.BAD_VOCAB_SIZE).field == "vocab_size"


# ---- cost summary ---------------------------------------------------------------------------------

def built_params(spec, vocab_size=TINY_VOCAB) -> int:
    return sum(p.numel() for p in compile_spec(spec, vocab_size=vocab_size).parameters())


@pytest.mark.parametrize("tie", [True, False])
@pytest.mark.parametrize("norm", ["rmsnorm", "layernorm"])
def test_cost_params_match_the_built_model(hybrid_spec, tie, norm):
    hybrid_spec["model"].update(tie_embeddings=tie, norm=norm)
    result = validate_spec(hybrid_spec, vocab_size=TINY_VOCAB)
    assert result.ok, result.errors
    assert result.cost.params == built_params(hybrid_spec)


@pytest.mark.parametrize("mode", ["sum", "mean", "gated", "concat"])
def test_merge_projection_params_are_counted(mode):
    spec = make_spec(
        [{"id": "in", "type": "input"}, {"id": "a", "type": "mlp"}, {"id": "b", "type": "mlp"},
         {"id": "c", "type": "mlp"}, {"id": "m", "type": "merge", "params": {"mode": mode}},
         {"id": "out", "type": "output"}],
        [["in", "a"], ["in", "b"], ["in", "c"], ["a", "m"], ["b", "m"], ["c", "m"], ["m", "out"]])
    assert validate_spec(spec, vocab_size=TINY_VOCAB).cost.params == built_params(spec)


def test_repeat_multiplies_cost_and_layers():
    once = validate_spec(repeat_spec([{"id": "r.a", "type": "mlp"}], []))
    row = next(r for r in once.cost.per_node if r["id"] == "r.a")
    single = validate_spec(chain_spec("mlp"))
    single_row = next(r for r in single.cost.per_node if r["id"] == "b0")
    assert row["params"] == 3 * single_row["params"] and row["times"] == 3
    assert row["flops_per_token"] == pytest.approx(3 * single_row["flops_per_token"])


def test_complexity_is_the_worst_block():
    quadratic = [b for b in all_blocks() if not b.structural and S.complexity_rank(b.complexity) == 4]
    if not quadratic:
        pytest.skip("no quadratic block registered yet")
    spec = chain_spec("mlp", quadratic[0].name, d_model=32)
    result = validate_spec(spec)
    assert result.ok, result.errors
    assert result.cost.complexity == "O(L^2)"


def test_complexity_ranks_order_common_spellings():
    ranks = [S.complexity_rank(t) for t in ["O(1)", "O(L)", "O(L·w)", "O(L log L)", "O(L sqrt L)", "O(L^2)"]]
    assert ranks == [0, 1, 1, 2, 3, 4]


def test_chunk_local_blocks_count_as_linear_and_run_at_chunk_length():
    spec = make_spec(
        [{"id": "in", "type": "input"}, {"id": "c", "type": "chunk", "params": {"chunk_size": 8}},
         {"id": "c.l", "type": "mlp", "parent": "c", "slot": "local"},
         {"id": "c.g", "type": "mlp", "parent": "c", "slot": "global"}, {"id": "out", "type": "output"}],
        [["in", "c"], ["c", "out"]])
    rows = {r["id"]: r for r in validate_spec(spec).cost.per_node}
    assert rows["c.l"]["seq_len"] == 8 and rows["c.g"]["seq_len"] == 4  # 32 tokens / 8 per chunk
    # The global mlp sees one summary per 8 tokens: an eighth of the per-token work.
    assert rows["c.g"]["flops_per_token"] == pytest.approx(rows["c.l"]["flops_per_token"] / 8)


# ---- JSON Schema ----------------------------------------------------------------------------------

def test_stored_schema_is_current():
    stored = S.SCHEMA_PATH.read_text(encoding="utf-8")
    assert stored == spec_json_schema_text(), "docs/spec.schema.json is stale: run `python -m blocks.spec`"


def test_schema_accepts_valid_specs_and_rejects_bad_params(hybrid_spec):
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(spec_json_schema())
    validator.check_schema(spec_json_schema())
    assert not list(validator.iter_errors(hybrid_spec))
    hybrid_spec["nodes"][2]["params"]["expansion"] = 1000
    hybrid_spec["nodes"][3]["params"]["nonsense"] = 1
    assert len(list(validator.iter_errors(hybrid_spec))) >= 2


def example_specs():
    # index.json holds the examples' titles and descriptions, not a spec.
    return sorted(p for p in (S.SCHEMA_PATH.parent.parent / "examples").glob("*.json") if p.name != "index.json")


@pytest.mark.parametrize("path", example_specs() or [None], ids=lambda p: p.name if p else "none")
def test_examples_validate_against_schema_and_validator(path):
    if path is None:
        pytest.skip("no example specs yet")
    jsonschema = pytest.importorskip("jsonschema")
    spec = json.loads(path.read_text(encoding="utf-8"))
    spec = spec.get("spec", spec)  # an example may wrap its spec with a title and task
    errors = [e.message for e in jsonschema.Draft202012Validator(spec_json_schema()).iter_errors(spec)]
    assert not errors, errors
    result = validate_spec(spec)
    assert result.ok, [e.to_json() for e in result.errors]


def test_null_or_absent_params_mean_all_defaults():
    spec = chain_spec({"type": "mlp", "params": None}, "mlp")
    result = validate_spec(spec)
    assert result.ok and result.spec["nodes"][1]["params"] == result.spec["nodes"][2]["params"]
