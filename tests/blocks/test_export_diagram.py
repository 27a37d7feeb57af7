"""Export to Python source (exec'd, loaded with the compiled weights, same logits; the blocks it imports inlined)
and graphviz diagrams. tests/blocks/test_export_standalone.py runs the file where only torch is installed."""
from __future__ import annotations

import ast
import importlib.util
import shutil
import sys

import pytest
import torch

from blocks.compiler import compile_spec
from blocks.diagram import FAMILY_COLOURS, render, to_dot
from blocks.export import EXPORT_CLASS, to_python
from blocks.spec import SpecInvalid
from tests.blocks.conftest import TINY_VOCAB, build_hybrid_spec, chain_spec, sequence_blocks


def load_source(source: str, tmp_path, name: str):
    path = tmp_path / f"{name}.py"
    path.write_text(source, encoding="utf-8")
    module_spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    sys.modules.pop(name, None)
    return module


def imported(source: str) -> set[str]:
    """Absolute names of the modules ``source`` imports (the library imports none relatively)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "a relative import"
            names.add(node.module)
    return names


def assert_self_contained(module, source: str) -> None:
    """The file and every module it inlines import only the standard library, torch and inlined modules."""
    for text in [source, *module._SOURCES.values()]:
        for name in imported(text):
            root = name.split(".")[0]
            assert root in sys.stdlib_module_names or root == "torch" or name in module._SOURCES, name


def assert_export_matches(spec, tmp_path, name, vocab_size=TINY_VOCAB, seed=0):
    source = to_python(spec, vocab_size, seed=seed)
    module = load_source(source, tmp_path, name)
    assert_self_contained(module, source)
    exported = getattr(module, EXPORT_CLASS)()
    compiled = compile_spec(spec, vocab_size=vocab_size, seed=seed)
    exported.load_state_dict(compiled.state_dict())  # strict: the same module names and shapes
    x = torch.randint(0, vocab_size, (2, 12), generator=torch.Generator().manual_seed(1))
    compiled.eval(), exported.eval()
    with torch.no_grad():
        assert torch.equal(exported(x), compiled(x))
    return module, source


def test_exported_hybrid_gives_identical_logits(tmp_path):
    module, source = assert_export_matches(build_hybrid_spec(), tmp_path, "exported_hybrid", seed=7)
    assert "class RBody(nn.Module)" in source and "m = self.m(r, side)" in source
    # Exactly the torch modules of the blocks the spec uses are inlined (the closure, not the library).
    torch_modules = {name.rsplit(".", 1)[-1] for name in module._SOURCES if name.endswith("_nn")}
    used = {"mlp_nn", "merge_nn", "norm_nn", "input_nn", "output_nn", "repeat_nn", "chunk_nn"}
    assert torch_modules == used, sorted(torch_modules ^ used)


def test_exported_model_with_every_block_gives_identical_logits(tmp_path):
    blocks = [b.name for b in sequence_blocks()]
    if not blocks:
        pytest.skip("no sequence blocks registered yet")
    spec = chain_spec(*blocks, d_model=32, max_seq_len=32, allow_noncausal=True)
    assert_export_matches(spec, tmp_path, "exported_every_block")


def test_export_refuses_an_invalid_spec():
    with pytest.raises(SpecInvalid):
        to_python(chain_spec("nope"), TINY_VOCAB)


def test_dot_draws_groups_as_clusters_with_family_colours_and_params():
    dot = to_dot(build_hybrid_spec(), vocab_size=TINY_VOCAB)
    assert dot.startswith("digraph composer {") and dot.rstrip().endswith("}")
    assert dot.count("subgraph cluster_") == 4  # repeat, chunk, and the chunk's two slots
    assert 'label="repeat r × 2"' in dot
    assert FAMILY_COLOURS["mlp"] in dot and FAMILY_COLOURS["hierarchy"] in dot
    assert "lhead=cluster_" in dot and "ltail=cluster_" in dot
    assert "528 params" in dot  # the concat merge: 2*16*16 + 16


@pytest.mark.parametrize("junk", [None, 3, [], {"nodes": "x"}, {"nodes": [{"id": 'a"b\\', "type": "x"}],
                                                                "edges": [['a"b\\', 'a"b\\'], [1]]}])
def test_dot_never_raises_and_escapes_user_text(junk):
    dot = to_dot(junk)
    assert dot.startswith("digraph composer {")
    assert 'a"b' not in dot  # a raw quote would end the DOT string early


needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz `dot` binary not installed")


@needs_dot
def test_render_svg_and_png():
    svg = render(build_hybrid_spec(), "svg")
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg and b"c.local" in svg
    png = render(build_hybrid_spec(), "png")
    assert png.startswith(b"\x89PNG")
    with pytest.raises(ValueError):
        render(build_hybrid_spec(), "gif")


@needs_dot
def test_render_draws_invalid_drafts_too():
    assert b"<svg" in render(chain_spec("nope", "mlp"), "svg")
