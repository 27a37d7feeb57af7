"""Property tests: any JSON, and random or mutated specs, either validate and compile within limits
(with the cost model's exact parameter count) or are refused with errors; never an exception."""
from __future__ import annotations

import math

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blocks.compiler import compile_spec
from blocks.registry import all_blocks, get_block
from blocks.spec import INTERNAL_ERROR, Limits, validate_spec

VOCAB = 7
SMALL_LIMITS = Limits(max_nodes=24, max_layers=12, max_params=400_000, max_activation_bytes=64 * 2**20,
                      max_d_model=32, max_seq_len=32, max_depth=2)

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**12, 10**12),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=8))
any_json = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=20)


def assert_refused_or_ok(result) -> None:
    assert INTERNAL_ERROR not in {e.code for e in result.errors}, result.errors
    assert result.ok == (not result.errors)
    for error in result.errors:
        assert isinstance(error.field, str) and isinstance(error.message, str) and error.message
        assert error.node_id is None or isinstance(error.node_id, str)


@settings(max_examples=150, deadline=None)
@given(any_json)
def test_any_json_is_refused_cleanly(value):
    result = validate_spec(value)
    assert_refused_or_ok(result)
    assert not result.ok


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["version", "model", "nodes", "edges", "layout"]), any_json))
def test_spec_shaped_json_is_refused_cleanly(value):
    assert_refused_or_ok(validate_spec(value))


def param_value(param):
    """Mostly in range (the default, the ends, the middle), sometimes junk."""
    if param.type == "choice":
        good = st.sampled_from(list(param.choices))
    elif param.type == "bool":
        good = st.booleans()
    else:
        low = param.min if param.min is not None else param.default - 4
        high = min(param.max if param.max is not None else param.default + 4, max(param.default, low) * 2 + 4)
        middle = (low + high) / 2
        candidates = [param.default, low, high, middle]
        if param.type == "int":
            candidates = [int(math.floor(c)) for c in candidates]
        good = st.sampled_from(candidates)
    return st.one_of(good, good, good, json_scalars)


@st.composite
def node_of(draw, entry, node_id: str, parent: str | None = None, slot: str | None = None) -> dict:
    chosen = draw(st.lists(st.sampled_from(list(entry.params)), unique_by=lambda p: p.name,
                           max_size=len(entry.params))) if entry.params else []
    node = {"id": node_id, "type": entry.name}
    if chosen:
        node["params"] = {p.name: draw(param_value(p)) for p in chosen}
    if parent is not None:
        node["parent"] = parent
    if slot is not None:
        node["slot"] = slot
    return node


SEQUENCE = [b for b in all_blocks() if not b.structural] or [get_block("norm")]


@st.composite
def chain(draw, prefix: str, parent: str | None, slot: str | None, depth: int):
    """1-3 segments in one scope, each a block, a group (repeat/chunk) or a fork into a merge.

    Returns (nodes, edges, entries, exit): the scope's predecessor connects to every entry.
    """
    nodes, edges = [], []
    entries, previous_exit = None, None
    for index in range(draw(st.integers(1, 3))):
        node_id = f"{prefix}{index}"
        kinds = ["block", "block", "block", "group", "fork"] if depth < 2 else ["block", "block", "fork"]
        kind = draw(st.sampled_from(kinds))
        if kind == "group":
            group_type = draw(st.sampled_from(["repeat", "chunk"]))
            nodes.append(draw(node_of(get_block(group_type), node_id, parent, slot)))
            slots = [None] if group_type == "repeat" else ["local"] + draw(st.sampled_from([[], ["global"]]))
            for inner_slot in slots:
                inner_nodes, inner_edges, _, _ = draw(chain(f"{node_id}.{inner_slot or 'b'}", node_id, inner_slot,
                                                            depth + 1))
                nodes += inner_nodes
                edges += inner_edges
            segment_entries = [node_id]
        elif kind == "fork":
            branches = [draw(node_of(draw(st.sampled_from(SEQUENCE)), f"{node_id}{side}", parent, slot))
                        for side in "ab"]
            nodes += branches + [draw(node_of(get_block("merge"), node_id, parent, slot))]
            edges += [[branch["id"], node_id] for branch in branches]
            segment_entries = [branch["id"] for branch in branches]
        else:
            nodes.append(draw(node_of(draw(st.sampled_from(SEQUENCE)), node_id, parent, slot)))
            segment_entries = [node_id]
        if previous_exit is None:
            entries = segment_entries
        else:
            edges += [[previous_exit, entry] for entry in segment_entries]
        previous_exit = node_id
    return nodes, edges, entries, previous_exit


@st.composite
def random_spec(draw) -> dict:
    nodes, edges, entries, exit_id = draw(chain("n", None, None, 0))
    edges = [["in", entry] for entry in entries] + edges + [[exit_id, "out"]]
    return {
        "version": 1,
        "model": {"d_model": draw(st.sampled_from([8, 16, 32])), "max_seq_len": draw(st.sampled_from([8, 16, 32])),
                  "norm": draw(st.sampled_from(["rmsnorm", "layernorm"])), "tie_embeddings": draw(st.booleans()),
                  "allow_noncausal": draw(st.booleans())},
        "nodes": [{"id": "in", "type": "input"}] + nodes + [{"id": "out", "type": "output"}],
        "edges": edges,
    }


MUTATIONS = ["drop_node", "drop_edge", "add_edge", "junk_param", "retype", "reparent", "junk_model", "none"]


@st.composite
def mutated_spec(draw) -> dict:
    spec = draw(random_spec())
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(MUTATIONS))
        nodes, edges = spec["nodes"], spec["edges"]
        ids = [n["id"] for n in nodes]
        if kind == "drop_node" and nodes:
            nodes.pop(draw(st.integers(0, len(nodes) - 1)))
        elif kind == "drop_edge" and edges:
            edges.pop(draw(st.integers(0, len(edges) - 1)))
        elif kind == "add_edge":
            edges.append([draw(st.sampled_from(ids)), draw(st.sampled_from(ids + ["ghost"]))])
        elif kind == "junk_param":
            node = draw(st.sampled_from(nodes))
            node.setdefault("params", {})[draw(st.text(max_size=6))] = draw(json_scalars)
        elif kind == "retype":
            draw(st.sampled_from(nodes))["type"] = draw(st.sampled_from([b.name for b in all_blocks()] + ["?"]))
        elif kind == "reparent":
            draw(st.sampled_from(nodes))["parent"] = draw(st.sampled_from(ids + ["ghost"]))
        elif kind == "junk_model":
            spec["model"][draw(st.sampled_from(["d_model", "max_seq_len", "norm", "x"]))] = draw(json_scalars)
    return spec


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(random_spec(), mutated_spec()))
def test_random_specs_compile_exactly_or_are_refused(spec):
    result = validate_spec(spec, vocab_size=VOCAB, limits=SMALL_LIMITS)
    assert_refused_or_ok(result)
    if not result.ok:
        return
    model = compile_spec(spec, vocab_size=VOCAB, limits=SMALL_LIMITS)
    assert sum(p.numel() for p in model.parameters()) == result.cost.params
    assert result.cost.params <= SMALL_LIMITS.max_params
    length = spec["model"]["max_seq_len"]
    with torch.no_grad():
        logits = model(torch.randint(0, VOCAB, (1, length), generator=torch.Generator().manual_seed(0)))
    assert logits.shape == (1, length, VOCAB) and torch.isfinite(logits).all()


def test_the_generator_produces_valid_specs_too():
    # Guards the strategy itself: one that only produced refusals would test little.
    results = []

    @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)
    @given(random_spec())
    def collect(spec):
        result = validate_spec(spec, vocab_size=VOCAB, limits=SMALL_LIMITS)
        assert_refused_or_ok(result)
        results.append(result.ok)

    collect()
    assert sum(results) >= 3, f"only {sum(results)} of {len(results)} generated specs were valid"
