"""Inference state in the cost model: each registry entry's ``state`` says what a decoder keeps after
L tokens; for blocks with a step form that is measured from the module itself, and the validator
adds it up (repeat: times x children; chunk: local + global) into ``CostSummary.state_bytes``."""
from __future__ import annotations

import pytest
import torch

from blocks.registry import get_block
from blocks.spec import validate_spec
from tests.blocks.block_checks import build, random_tokens, state_tensor_bytes
from tests.blocks.conftest import chain_spec, make_spec, sequence_blocks

F32 = 4
D = 16
MAX_LEN = 32


def state_bytes(name: str, d_model: int, seq_len: int, **given) -> float:
    entry = get_block(name)
    return entry.state(d_model, seq_len, entry.resolve_params(given))


# ---- the formulas, family by family ------------------------------------------------------------

@pytest.mark.parametrize("name, given, d, length, floats", [
    # attention: KV caches grow with L (2 x L x kv width); windows and projections bound them
    ("softmax_attention", {"heads": 4}, 64, 256, 2 * 256 * 64),
    ("softmax_attention", {"heads": 8, "kv_heads": 2}, 64, 100, 2 * 100 * 2 * 8),
    ("sliding_window_attention", {"window": 16, "global_tokens": 4}, 32, 256, 2 * 32 * (15 + 4)),
    ("sliding_window_attention", {"window": 16}, 32, 5, 2 * 32 * 5),
    ("bigbird_attention", {}, 32, 128, 2 * 128 * 32),
    ("linformer_attention", {"proj_len": 8, "chunk_size": 16}, 32, 256, 4 * 8 * 32 + 2 * 15 * 32),
    ("linformer_attention", {"proj_len": 8, "causal": False}, 32, 256, 2 * 256 * 32),
    ("linear_attention", {"heads": 4}, 64, 4096, 4 * 16 * (16 + 1)),
    ("performer_attention", {"heads": 4, "nb_features": 32}, 64, 4096, 4 * 32 * (16 + 1)),
    ("fnet", {}, 32, 64, 64 * 32),
    # ssm: fixed
    ("s4d", {"d_state": 64}, 32, 4096, 32 * 64),
    ("mamba", {"d_state": 16, "d_conv": 4, "expand": 2}, 64, 4096, 128 * (16 + 4)),
    # recurrent: fixed
    ("retnet", {"heads": 4, "value_factor": 2}, 64, 4096, 4 * 16 * 32),
    ("rwkv", {}, 64, 4096, 5 * 64),
    # convolution: Hyena keeps the whole history of its long convolutions; H3 is an SSM
    ("hyena", {"order": 2, "short_filter": 3}, 64, 256, 1 * 64 * 256 + 3 * 64 * 2),
    ("hyena", {"order": 3, "short_filter": 3}, 64, 256, 2 * 64 * 256 + 4 * 64 * 2),
    ("h3", {"heads": 8, "d_state": 16}, 64, 4096, 64 * 15 + 8 * 8 * 8 * 16),
    # moe and mlp: position-wise, nothing carried
    ("mlp", {}, 64, 4096, 0),
    ("moe", {}, 64, 4096, 0),
    ("switch_moe", {}, 64, 4096, 0),
    # memory: a KV cache, a segment cache, or only parameters
    ("memory_tokens", {}, 32, 100, 2 * 100 * 32),
    ("segment_recurrence", {"segment_len": 8}, 32, 100, 15 * 32),
    ("kv_memory", {}, 32, 100, 0),
])
def test_state_is_what_the_formula_says(name, given, d, length, floats):
    assert state_bytes(name, d, length, **given) == F32 * floats


def test_fixed_states_do_not_grow_and_caches_do():
    for name in ("mamba", "s4d", "rwkv", "retnet", "linear_attention", "performer_attention", "h3"):
        assert state_bytes(name, 64, 64) == state_bytes(name, 64, 65536), name
    for name in ("softmax_attention", "bigbird_attention", "memory_tokens", "hyena", "fnet"):
        assert state_bytes(name, 64, 128) > state_bytes(name, 64, 64), name


# ---- measured from the modules' step forms -------------------------------------------------------

# Every registered block with a step form at its defaults (so a new one must report its state),
# and variants whose state has more parts (grouped kv heads, globals, chunks, segments).
STEPPED = [(entry.name, {}) for entry in sequence_blocks() if entry.recurrent] + [
    ("softmax_attention", {"heads": 4, "kv_heads": 2}),
    ("sliding_window_attention", {"window": 4, "global_tokens": 2}),
    ("bigbird_attention", {"block_size": 4}),
    ("linformer_attention", {"proj_len": 4, "chunk_size": 4}),
    ("performer_attention", {"nb_features": 8}),
    ("s4d", {"d_state": 8}),
    ("mamba", {"d_state": 4, "d_conv": 3}),
    ("retnet", {"heads": 2}),
    ("rwkv", {"ffn_mult": 2}),
    ("h3", {"heads": 4, "d_state": 4}),
    ("memory_tokens", {"num_tokens": 3}),
    ("segment_recurrence", {"segment_len": 3}),
    ("kv_memory", {"slots": 5}),
]


@pytest.mark.parametrize("name, given", STEPPED, ids=[f"{n}-{i}" for i, (n, _) in enumerate(STEPPED)])
def test_state_is_the_largest_state_the_step_form_carries(name, given):
    """state(d, L) equals the most bytes the step form holds between tokens over the first L tokens."""
    assert get_block(name).recurrent
    module = build(name, d_model=D, max_seq_len=MAX_LEN, **given)
    x = random_tokens(batch=1, length=11, d_model=D)
    state = module.init_state(1, None, torch.float32)
    largest = 0
    with torch.no_grad():
        for t in range(x.shape[1]):
            _, state = module.step(x[:, t], state)
            largest = max(largest, state_tensor_bytes(state))
            assert state_bytes(name, D, t + 1, **given) == largest, f"after {t + 1} tokens"


@pytest.mark.parametrize("name, given", [(n, g) for n, g in STEPPED if n in (
    "linformer_attention", "s4d", "mamba", "retnet", "rwkv", "h3")])
def test_fixed_state_equals_what_init_state_allocates(name, given):
    module = build(name, d_model=D, max_seq_len=MAX_LEN, **given)
    allocated = state_tensor_bytes(module.init_state(1, None, torch.float32))
    # Linformer's chunk buffer grows inside a chunk; its fixed part is the projections.
    grows = 0 if name != "linformer_attention" else state_bytes(name, D, MAX_LEN, **given) - allocated
    assert state_bytes(name, D, MAX_LEN, **given) - grows == allocated > 0


# ---- aggregated by the validator ----------------------------------------------------------------

def test_summary_adds_state_over_nodes_and_json_shows_it():
    spec = chain_spec("softmax_attention", "mlp", {"type": "mamba"}, d_model=32, max_seq_len=64)
    result = validate_spec(spec, vocab_size=11)
    assert result.ok
    expected = state_bytes("softmax_attention", 32, 64) + state_bytes("mamba", 32, 64)
    assert result.cost.state_bytes == expected
    body = result.to_json()["cost"]
    assert body["state_bytes"] == expected
    rows = {row["id"]: row for row in body["per_node"]}
    assert rows["b0"]["state_bytes"] == state_bytes("softmax_attention", 32, 64)
    assert rows["b1"]["state_bytes"] == 0 and rows["in"]["state_bytes"] == 0


def test_repeat_multiplies_and_chunk_adds_local_and_global():
    nodes = [
        {"id": "in", "type": "input"},
        {"id": "r", "type": "repeat", "params": {"times": 3}},
        {"id": "r.attn", "type": "softmax_attention", "parent": "r"},
        {"id": "c", "type": "chunk", "params": {"chunk_size": 8}},
        {"id": "c.local", "type": "softmax_attention", "parent": "c", "slot": "local"},
        {"id": "c.global", "type": "softmax_attention", "parent": "c", "slot": "global"},
        {"id": "out", "type": "output"},
    ]
    spec = make_spec(nodes, [["in", "r"], ["r", "c"], ["c", "out"]], d_model=16, max_seq_len=64)
    result = validate_spec(spec, vocab_size=11)
    assert result.ok
    attn = lambda length: state_bytes("softmax_attention", 16, length)  # noqa: E731
    chunk_own = get_block("chunk").state(16, 64, {"chunk_size": 8, "summary": "mean"})
    rows = {row["id"]: row for row in result.cost.per_node}
    assert rows["r.attn"]["state_bytes"] == 3 * attn(64)
    assert rows["r"]["subtree_state_bytes"] == 3 * attn(64)
    # local runs one chunk (8 tokens) at a time; global sees 64 / 8 summaries
    assert rows["c.local"]["state_bytes"] == attn(8) and rows["c.global"]["state_bytes"] == attn(8)
    assert rows["c"]["subtree_state_bytes"] == chunk_own + attn(8) + attn(8)
    assert result.cost.state_bytes == 3 * attn(64) + chunk_own + 2 * attn(8)
