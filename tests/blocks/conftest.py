"""Spec builders shared by the blocks tests: tiny models that validate and compile in milliseconds."""
from __future__ import annotations

import copy

import pytest

from blocks.registry import all_blocks

TINY_D_MODEL = 16
TINY_SEQ_LEN = 32
TINY_VOCAB = 11


def make_spec(nodes: list[dict], edges: list[list[str]], **model) -> dict:
    """A version-1 spec around ``nodes``/``edges``; ``model`` overrides the tiny defaults."""
    return {
        "version": 1,
        "model": {"d_model": TINY_D_MODEL, "max_seq_len": TINY_SEQ_LEN, **model},
        "nodes": copy.deepcopy(nodes),
        "edges": [list(e) for e in edges],
    }


def chain_spec(*blocks: str | dict, **model) -> dict:
    """input -> blocks... -> output. A block is a type name or a node dict without id."""
    nodes = [{"id": "in", "type": "input"}]
    for index, block in enumerate(blocks):
        node = {"type": block} if isinstance(block, str) else dict(block)
        node["id"] = f"b{index}"
        nodes.append(node)
    nodes.append({"id": "out", "type": "output"})
    ids = [n["id"] for n in nodes]
    return make_spec(nodes, list(zip(ids, ids[1:])), **model)


def sequence_blocks() -> list:
    """Every non-structural registry entry (what a user drags from the palette)."""
    return [b for b in all_blocks() if not b.structural]


@pytest.fixture
def mlp_chain() -> dict:
    return chain_spec("mlp", "mlp")


@pytest.fixture
def hybrid_spec() -> dict:
    return build_hybrid_spec()


def build_hybrid_spec() -> dict:
    """Every structural feature at once: positions, repeat, merge, chunk with both slots, untied head."""
    nodes = [
        {"id": "in", "type": "input", "params": {"positions": "learned"}},
        {"id": "r", "type": "repeat", "params": {"times": 2}},
        {"id": "r.a", "type": "mlp", "parent": "r", "params": {"expansion": 2.0}},
        {"id": "r.b", "type": "mlp", "parent": "r", "params": {"activation": "gelu"}},
        {"id": "side", "type": "mlp"},
        {"id": "m", "type": "merge", "params": {"mode": "concat"}},
        {"id": "c", "type": "chunk", "params": {"chunk_size": 4, "summary": "attention"}},
        {"id": "c.local", "type": "mlp", "parent": "c", "slot": "local"},
        {"id": "c.global", "type": "mlp", "parent": "c", "slot": "global"},
        {"id": "n", "type": "norm", "params": {"kind": "layernorm"}},
        {"id": "out", "type": "output"},
    ]
    edges = [["in", "r"], ["r.a", "r.b"], ["r", "m"], ["in", "side"], ["side", "m"], ["m", "c"], ["c", "n"],
             ["n", "out"]]
    return make_spec(nodes, edges, tie_embeddings=False)
