"""Export a spec as one self-contained, readable PyTorch file that rebuilds the compiled model by hand.

``to_python(spec, vocab_size)`` returns Python source that needs only ``torch``: its ``ComposerExport``
class has exactly the compiled model's module names, so it loads the compiled model's state dict or a
run's ``model.safetensors`` (``load_weights(path)``, a small reader of the format) and gives identical
logits. Each group sub-graph (a repeat's body, a chunk's local/global slot) becomes its own class, and
every forward is written out node by node, like the compiler's fx graph. The torch code of the blocks
the spec uses is inlined at the end of the file (see ``blocks/export_inline.py``).
"""
from __future__ import annotations

import re

from blocks.compiler import layer_count, module_name
from blocks.export_inline import class_source, inline_tail
from blocks.library.hierarchy.chunk import GLOBAL_SLOT, LOCAL_SLOT, global_seq_len
from blocks.spec import DEFAULT_LIMITS, Limits, ParsedSpec, SpecInvalid, parse_spec

EXPORT_CLASS = "ComposerExport"

# Torch pieces the compiler itself builds the structural nodes from: name in the file -> dotted path.
_STRUCTURAL = {
    "TokenEmbedding": "blocks.library.structural.input_nn.TokenEmbedding",
    "OutputHead": "blocks.library.structural.output_nn.OutputHead",
    "make_norm": "blocks.library.structural.norm_nn.make_norm",
    "Repeat": "blocks.library.structural.repeat_nn.Repeat",
    "ChunkGroup": "blocks.library.hierarchy.chunk_nn.ChunkGroup",
}
# Names the file defines itself, which no class or import may take.
_TAKEN = {"PreNormResidual", "block", "pre_norm", "load_weights", "read_safetensors", "main",
          "argparse", "json", "struct", "torch", "nn", "importlib", "linecache", "sys"}

# The file's weights reader and command line; EXPORT_CLASS is replaced by the model's class name.
_RUNNER = '''# safetensors element types -> torch dtypes (the format: 8-byte little-endian header length,
# a JSON header {name: {dtype, shape, data_offsets}}, then the raw little-endian bytes).
_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
           "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
           "BOOL": torch.bool}


def read_safetensors(path) -> dict:
    """name -> tensor from a .safetensors file, read with torch alone."""
    with open(path, "rb") as f:
        data = f.read()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + header_len])
    header.pop("__metadata__", None)
    base = 8 + header_len
    tensors = {}
    for name, info in header.items():
        start, end = info["data_offsets"]
        raw = bytearray(data[base + start:base + end])
        flat = torch.frombuffer(raw, dtype=_DTYPES[info["dtype"]]) if raw else torch.empty(0, dtype=_DTYPES[info["dtype"]])
        tensors[name] = flat.reshape(info["shape"])
    return tensors


def load_weights(path) -> EXPORT_CLASS:
    """The model with a run's checkpoint (model.safetensors) loaded; every tensor must match.
    Tied tensors are stored once, so a name may be missing only when it shares its storage with a loaded one."""
    model = EXPORT_CLASS()
    tensors = read_safetensors(path)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    state = model.state_dict(keep_vars=True)
    loaded = {state[name].data_ptr() for name in tensors if name in state}
    missing = [name for name in missing if state[name].data_ptr() not in loaded]
    if missing or unexpected:
        raise RuntimeError(f"{path}: missing {missing}, unexpected {unexpected}")
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description="Run the exported model on token ids.")
    parser.add_argument("--weights", required=True, help="the run's model.safetensors")
    parser.add_argument("--prompt-ids", required=True, help="comma-separated token ids, e.g. 1,2,3")
    parser.add_argument("--logits", action="store_true", help="print every position's logits as JSON")
    args = parser.parse_args()
    model = load_weights(args.weights)
    tokens = torch.tensor([[int(t) for t in args.prompt_ids.split(",")]], dtype=torch.long)
    with torch.no_grad():
        logits = model(tokens)[0].double()  # (L, VOCAB_SIZE)
    if args.logits:
        print(json.dumps(logits.tolist()))
    print(f"next token: {int(logits[-1].argmax())}")
'''


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
        self.class_names: set[str] = {EXPORT_CLASS, *_TAKEN, *_STRUCTURAL}
        self.bindings: dict[str, tuple[str, str]] = {}  # name in the file -> (blocks module, attribute)

    def source(self) -> str:
        for local in ("TokenEmbedding", "OutputHead", "make_norm"):
            self.bind(local)
        top = self.scope_class((None, None), EXPORT_CLASS, self.model["max_seq_len"], top_level=True)
        m = self.model
        header = f"""\"\"\"Composer model exported from a spec by blocks/export.py: needs only torch.

d_model={m["d_model"]}, max_seq_len={m["max_seq_len"]}, norm={m["norm"]}, tie_embeddings={m["tie_embeddings"]},
vocab_size={self.vocab_size}, {self.params:,} parameters. The module names match the compiled model's, so
``load_weights("model.safetensors")`` (a run's checkpoint) or ``{EXPORT_CLASS}().load_state_dict(state_dict)``
gives its logits. From a shell: ``python this_file.py --weights model.safetensors --prompt-ids 1,2,3``.
The blocks' torch code is inlined at the end of this file.
\"\"\"
import argparse
import json
import struct

import torch
from torch import nn

D_MODEL = {m["d_model"]}
MAX_SEQ_LEN = {m["max_seq_len"]}
VOCAB_SIZE = {self.vocab_size}
NORM = {m["norm"]!r}
SEED = {self.seed}
N_LAYERS = {layer_count(self.parsed)}  # sequence layers after expanding repeats (for builds that take it)


def block(module_class, *, max_seq_len: int, layer_idx: int, **params) -> nn.Module:
    \"\"\"A block's torch module, built exactly as the compiler builds it.\"\"\"
    return module_class(d_model=D_MODEL, max_seq_len=max_seq_len, layer_idx=layer_idx, seed=SEED + layer_idx, **params)


def pre_norm(module: nn.Module) -> nn.Module:
    \"\"\"x + module(norm(x)).\"\"\"
    return PreNormResidual(make_norm(NORM, D_MODEL), module)


{class_source("blocks.compiler", "PreNormResidual")}
"""
        roots = sorted({module for module, _ in self.bindings.values()})
        runner = _RUNNER.replace("EXPORT_CLASS", EXPORT_CLASS)
        return "\n\n".join([header, *self.classes, top, runner, inline_tail(roots, self.bindings),
                            'if __name__ == "__main__":\n    main()\n'])

    def bind(self, dotted: str) -> str:
        """The name under which the file sees ``dotted`` (``module.attribute``, or a key of ``_STRUCTURAL``),
        imported from the inlined library at the end of the file."""
        if dotted in _STRUCTURAL:
            self.bindings[dotted] = tuple(_STRUCTURAL[dotted].rsplit(".", 1))
            return dotted  # reserved in class_names from the start
        module, _, attribute = dotted.rpartition(".")
        for name, where in self.bindings.items():
            if where == (module, attribute):
                return name
        name, suffix = attribute, 2
        while name in self.class_names:
            name, suffix = f"{attribute}{suffix}", suffix + 1
        self.class_names.add(name)
        self.bindings[name] = (module, attribute)
        return name

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
            return f"{self.bind('Repeat')}([{body}(first_layer={layer} + i * {per}) for i in range({node.params['times']})])"
        if node.type == "chunk":
            size = node.params["chunk_size"]
            local = self.sub_class((node_id, LOCAL_SLOT), size)
            global_ = "None"
            if (node_id, GLOBAL_SLOT) in self.parsed.scopes:
                cls = self.sub_class((node_id, GLOBAL_SLOT), global_seq_len(max_len, size))
                global_ = f"{cls}(first_layer={layer} + {layer_count(self.parsed, (node_id, LOCAL_SLOT))})"
            return (f"{self.bind('ChunkGroup')}(D_MODEL, {size}, {node.params['summary']!r}, "
                    f"local={local}(first_layer={layer}), global_={global_})")
        params = "".join(f", {k}={v!r}" for k, v in node.build_params(num_inputs).items())
        if node.entry.takes_n_layers():
            params = f", n_layers=N_LAYERS{params}"
        built = f"block({self.bind(node.entry.module)}, max_seq_len={max_len}, layer_idx={layer}{params})"
        if node.entry.residual and not node.entry.structural:
            return f"pre_norm({built})"
        return built
