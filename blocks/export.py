"""Export a spec as readable PyTorch source: a module that rebuilds the compiled model by hand.

``to_python(spec, vocab_size)`` returns Python source importing only ``torch`` and ``blocks``.
Its ``ComposerExport`` class has exactly the compiled model's module names, so
``ComposerExport().load_state_dict(compile_spec(spec, ...).state_dict())`` gives identical logits.
Each group sub-graph (a repeat's body, a chunk's local/global slot) becomes its own class,
and every forward is written out node by node, like the compiler's fx graph.
"""
from __future__ import annotations

import re

from blocks.compiler import layer_count, module_name
from blocks.library.hierarchy.chunk import GLOBAL_SLOT, LOCAL_SLOT, global_seq_len
from blocks.spec import DEFAULT_LIMITS, Limits, ParsedSpec, SpecInvalid, parse_spec

EXPORT_CLASS = "ComposerExport"


def to_python(spec, vocab_size: int, *, seed: int = 0, limits: Limits = DEFAULT_LIMITS) -> str:
    """Readable source for the model ``compile_spec(spec, vocab_size=vocab_size, seed=seed)`` builds."""
    result, parsed = parse_spec(spec, vocab_size=vocab_size, limits=limits)
    if not result.ok:
        raise SpecInvalid(result.errors)
    return _Writer(parsed, vocab_size, seed, result.cost.params).source()


def _camel(text: str) -> str:
    words = re.split(r"\W|_", text, flags=re.ASCII)
    name = "".join(w[:1].upper() + w[1:] for w in words if w) or "Graph"
    return name if name[0].isalpha() else f"G{name}"


class _Writer:
    def __init__(self, parsed: ParsedSpec, vocab_size: int, seed: int, params: int):
        self.parsed = parsed
        self.model = parsed.model
        self.vocab_size = vocab_size
        self.seed = seed
        self.params = params
        self.classes: list[str] = []  # sub-graph classes, innermost first
        self.class_names: set[str] = {EXPORT_CLASS}

    def source(self) -> str:
        top = self.scope_class((None, None), EXPORT_CLASS, self.model["max_seq_len"], top_level=True)
        m = self.model
        header = f'''"""Composer model exported from a spec by blocks/export.py.

d_model={m["d_model"]}, max_seq_len={m["max_seq_len"]}, norm={m["norm"]}, tie_embeddings={m["tie_embeddings"]},
vocab_size={self.vocab_size}, {self.params:,} parameters. The module names match the compiled model's,
so ``{EXPORT_CLASS}().load_state_dict(compile_spec(spec, vocab_size={self.vocab_size}).state_dict())`` works.
"""
import torch
from torch import nn

from blocks.compiler import PreNormResidual
from blocks.library.hierarchy.chunk_nn import ChunkGroup
from blocks.library.structural.input_nn import TokenEmbedding
from blocks.library.structural.norm_nn import make_norm
from blocks.library.structural.output_nn import OutputHead
from blocks.library.structural.repeat_nn import Repeat
from blocks.registry import get_block

D_MODEL = {m["d_model"]}
MAX_SEQ_LEN = {m["max_seq_len"]}
VOCAB_SIZE = {self.vocab_size}
NORM = {m["norm"]!r}
SEED = {self.seed}
N_LAYERS = {layer_count(self.parsed)}  # sequence layers after expanding repeats (for builds that take it)


def block(block_type: str, *, max_seq_len: int, layer_idx: int, **params) -> nn.Module:
    """A block from the registry, built exactly as the compiler builds it."""
    return get_block(block_type).build(
        d_model=D_MODEL, max_seq_len=max_seq_len, layer_idx=layer_idx, seed=SEED + layer_idx, **params
    )


def pre_norm(module: nn.Module) -> PreNormResidual:
    """x + module(norm(x))."""
    return PreNormResidual(make_norm(NORM, D_MODEL), module)
'''
        return "\n\n".join([header, *self.classes, top])

    def scope_class(self, key, class_name: str, max_len: int, *, top_level: bool = False) -> str:
        scope = self.parsed.scopes[key]
        taken: set[str] = set()
        names = {node_id: module_name(node_id, taken) for node_id in scope.order}
        init_lines: list[str] = []
        offset = 0  # layer index relative to first_layer
        for node_id in scope.order:
            node = self.parsed.nodes[node_id]
            layer = f"first_layer + {offset}" if not top_level else str(offset)
            init_lines.append(f"self.{names[node_id]} = {self.node_expr(node_id, len(scope.inputs[node_id]), max_len, layer)}")
            if node.type == "repeat":
                offset += node.params["times"] * layer_count(self.parsed, (node_id, None))
            elif node.type == "chunk":
                offset += layer_count(self.parsed, (node_id, LOCAL_SLOT))
                if (node_id, GLOBAL_SLOT) in self.parsed.scopes:
                    offset += layer_count(self.parsed, (node_id, GLOBAL_SLOT))
            elif not node.entry.structural:
                offset += 1
        placeholder = "tokens" if top_level else "x"
        forward = []
        for node_id in scope.order:
            preds = scope.inputs[node_id]
            args = ", ".join(names[p] for p in preds) if preds else placeholder
            forward.append(f"{names[node_id]} = self.{names[node_id]}({args})")
        forward.append(f"return {names[scope.sink]}")
        if top_level:
            doc = "tokens (B, L) int64 -> logits (B, L, VOCAB_SIZE)."
            signature = "def __init__(self):"
        else:
            owner, slot = key
            where = f"slot {slot!r} of " if slot else "the body of "
            doc = f"x (B, L, D) -> (B, L, D): {where}{self.parsed.nodes[owner].type} {owner!r}."
            signature = "def __init__(self, first_layer: int):"
        body = "\n".join(f"        {line}" for line in init_lines)
        forward_body = "\n".join(f"        {line}" for line in forward)
        return (f"class {class_name}(nn.Module):\n"
                f'    """{doc}"""\n\n'
                f"    {signature}\n"
                f"        super().__init__()\n{body}\n\n"
                f"    def forward(self, {placeholder}):\n{forward_body}\n")

    def sub_class(self, key, max_len: int) -> str:
        owner, slot = key
        name = _camel(f"{owner}_{slot or 'body'}")
        base, suffix = name, 2
        while name in self.class_names:
            name, suffix = f"{base}{suffix}", suffix + 1
        self.class_names.add(name)
        self.classes.append(self.scope_class(key, name, max_len))
        return name

    def node_expr(self, node_id: str, num_inputs: int, max_len: int, layer: str) -> str:
        node = self.parsed.nodes[node_id]
        if node.type == "input":
            return f"TokenEmbedding(VOCAB_SIZE, D_MODEL, MAX_SEQ_LEN, positions={node.params['positions']!r})"
        if node.type == "output":
            # The compiler names the input node's module the same way at the top level.
            top = self.parsed.scopes[(None, None)]
            taken: set[str] = set()
            names = {i: module_name(i, taken) for i in top.order}
            tied = f"self.{names[top.source]}.tokens" if self.model["tie_embeddings"] else "None"
            return f"OutputHead(D_MODEL, VOCAB_SIZE, NORM, tied_embedding={tied})"
        if node.type == "repeat":
            body = self.sub_class((node_id, None), max_len)
            per = layer_count(self.parsed, (node_id, None))
            return f"Repeat([{body}(first_layer={layer} + i * {per}) for i in range({node.params['times']})])"
        if node.type == "chunk":
            size = node.params["chunk_size"]
            local = self.sub_class((node_id, LOCAL_SLOT), size)
            global_ = "None"
            if (node_id, GLOBAL_SLOT) in self.parsed.scopes:
                cls = self.sub_class((node_id, GLOBAL_SLOT), global_seq_len(max_len, size))
                global_ = f"{cls}(first_layer={layer} + {layer_count(self.parsed, (node_id, LOCAL_SLOT))})"
            return (f"ChunkGroup(D_MODEL, {size}, {node.params['summary']!r}, "
                    f"local={local}(first_layer={layer}), global_={global_})")
        params = "".join(f", {k}={v!r}" for k, v in node.build_params(num_inputs).items())
        if node.entry.takes_n_layers():
            params = f", n_layers=N_LAYERS{params}"
        built = f"block({node.type!r}, max_seq_len={max_len}, layer_idx={layer}{params})"
        if node.entry.residual and not node.entry.structural:
            return f"pre_norm({built})"
        return built
