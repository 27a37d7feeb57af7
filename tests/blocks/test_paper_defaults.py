"""Defaults that move toward the papers' as the model grows (issue 14): Performer's nb_features
follows the head size as FastAttention's does; Linformer's k, the sliding window and BigBird's
blocks grow with the context toward the papers' values, valid at every length; the validator
writes the values it chose into the normalised spec, and what a spec gives is kept."""
from __future__ import annotations

import math

import pytest

from blocks.compiler import compile_spec
from blocks.registry import all_blocks, get_block
from blocks.spec import validate_spec
from tests.blocks.conftest import chain_spec, make_spec

SCALED = ("sliding_window_attention", "bigbird_attention", "linformer_attention", "performer_attention")


def chosen(name: str, d_model: int, max_seq_len: int, **given) -> dict:
    node = {"type": name, "params": given} if given else name
    result = validate_spec(chain_spec(node, d_model=d_model, max_seq_len=max_seq_len))
    assert result.ok, [e.to_json() for e in result.errors]
    return result.spec["nodes"][1]["params"]


@pytest.mark.parametrize("d_model, heads, expected", [(64, 4, 44), (128, 4, 110), (256, 4, 266), (64, 64, 1),
                                                      (96, 3, 110)])
def test_performer_features_are_fastattentions_default(d_model, heads, expected):
    """performer-pytorch: nb_features = int(dim_heads * math.log(dim_heads))."""
    head_dim = d_model // heads
    assert expected == max(1, int(head_dim * math.log(head_dim)))
    assert chosen("performer_attention", d_model, 64, heads=heads)["nb_features"] == expected


@pytest.mark.parametrize("length, window, block, global_blocks, random_blocks, proj_len", [
    (8, 8, 8, 1, 1, 8),
    (64, 8, 8, 2, 2, 16),
    (512, 64, 32, 2, 3, 128),
    (1024, 128, 64, 2, 3, 128),
    (4096, 512, 64, 2, 3, 128),  # the papers' values: Longformer's 512, BigBird's 64 / 2 / 3
    (65536, 512, 64, 2, 3, 128),
])
def test_length_defaults_grow_toward_the_papers(length, window, block, global_blocks, random_blocks, proj_len):
    assert chosen("sliding_window_attention", 64, length)["window"] == window
    bigbird = chosen("bigbird_attention", 64, length)
    assert (bigbird["block_size"], bigbird["window_blocks"], bigbird["global_blocks"], bigbird["random_blocks"]) \
        == (block, 1, global_blocks, random_blocks)
    assert chosen("linformer_attention", 64, length)["proj_len"] == proj_len


@pytest.mark.parametrize("name", SCALED)
def test_scaled_defaults_pass_the_blocks_check_at_every_length(name):
    """Down to one token (a chunk may be that short): no problem names a param the context chose.
    (Linformer's fixed chunk_size 8 is refused below 8 tokens, as before.)"""
    entry = get_block(name)
    scaled = {p.name for p in entry.params if p.context_default is not None}
    for length in [*range(1, 70), 100, 257, 1000, 4095, 4097, 65536]:
        params = entry.resolve_params({}, d_model=64, max_seq_len=length)
        fields = {field for field, _ in entry.check(64, length, params)}
        assert not fields & scaled, (name, length, fields)
        assert fields <= ({"chunk_size"} if length < 8 else set()), (name, length, fields)


def test_inside_a_chunk_the_defaults_follow_the_chunks_length():
    nodes = [{"id": "in", "type": "input"},
             {"id": "c", "type": "chunk", "params": {"chunk_size": 8}},
             {"id": "c.local", "type": "sliding_window_attention", "parent": "c", "slot": "local"},
             {"id": "c.global", "type": "bigbird_attention", "parent": "c", "slot": "global"},
             {"id": "out", "type": "output"}]
    spec = make_spec(nodes, [["in", "c"], ["c", "out"]], max_seq_len=4096)
    result = validate_spec(spec)
    assert result.ok, [e.to_json() for e in result.errors]
    params = {n["id"]: n["params"] for n in result.spec["nodes"]}
    assert params["c.local"]["window"] == 8  # a chunk of 8 tokens
    assert params["c.global"]["block_size"] == 32  # 512 chunk summaries: 512 / 16


def test_given_values_are_kept_and_the_normalised_spec_is_explicit():
    given = chosen("sliding_window_attention", 64, 4096, window=16)
    assert given["window"] == 16
    normalised = validate_spec(chain_spec("performer_attention", d_model=64, max_seq_len=4096)).spec
    again = validate_spec(dict(normalised, model=dict(normalised["model"], d_model=128))).spec
    assert again["nodes"][1]["params"]["nb_features"] == 44  # written in: a new width keeps it


def test_the_compiled_model_uses_the_chosen_values():
    model = compile_spec(chain_spec("sliding_window_attention", "linformer_attention", d_model=32, max_seq_len=512),
                         vocab_size=11)
    assert model.b0.block.window == 64
    assert model.b1.block.key_compress.shape == (128, 512)


def test_registry_json_carries_the_papers_values():
    params = {p["name"]: p for p in get_block("bigbird_attention").to_json()["params"]}
    assert params["block_size"]["paper_value"] == 64 and params["block_size"]["scales_with_model"]
    assert params["window_blocks"]["paper_value"] == 1 and not params["window_blocks"]["scales_with_model"]
    assert params["heads"]["paper_value"] is None
    for entry in all_blocks():
        for param in entry.params:
            if param.context_default is not None:
                assert param.paper_value is not None and "Left out" in param.help, (entry.name, param.name)
