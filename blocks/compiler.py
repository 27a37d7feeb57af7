"""Compile a validated spec into a PyTorch model (``ComposerModel``), built as a torch.fx graph.

Each graph (the top level, and every slot of a repeat or chunk group) becomes an fx
``GraphModule`` with one ``call_module`` per node, so ``print(model.code)`` shows a
readable forward. Blocks come only from the registry (never from a dotted path in user
JSON). Weights are initialised under a private, seeded RNG: the same spec and seed give
identical weights, and the caller's global RNG is left untouched. When every block of a
spec has a recurrent form, ``init_state``/``step`` run the model token by token.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

import torch
from torch import fx, nn
from torch.fx.graph_module import _USER_PRESERVED_ATTRIBUTES_KEY

from blocks.library.hierarchy.chunk import GLOBAL_SLOT, LOCAL_SLOT, global_seq_len
from blocks.library.hierarchy.chunk_nn import ChunkGroup
from blocks.library.structural.input_nn import TokenEmbedding
from blocks.library.structural.norm_nn import make_norm
from blocks.library.structural.output_nn import OutputHead
from blocks.library.structural.repeat_nn import Repeat
from blocks.spec import DEFAULT_LIMITS, Limits, ParsedSpec, SpecInvalid, parse_spec


class PreNormResidual(nn.Module):
    """x + block(norm(x)): how sequence blocks with ``residual=True`` enter the residual stream."""

    def __init__(self, norm: nn.Module, block: nn.Module):
        super().__init__()
        self.norm = norm
        self.block = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.block(self.norm(x))

    def init_state(self, batch_size: int, device=None, dtype=None):
        return self.block.init_state(batch_size, device, dtype)

    def step(self, x_t: torch.Tensor, state):
        y_t, state = self.block.step(self.norm(x_t), state)
        return x_t + y_t, state


def module_name(node_id: str, taken: set[str]) -> str:
    """A Python identifier for a node id (fx and state_dict keys need one), unique in ``taken``."""
    name = re.sub(r"\W", "_", node_id, flags=re.ASCII) or "node"
    if name[0].isdigit() or name[0] == "_" or keyword.iskeyword(name) or name in _RESERVED_NAMES:
        name = f"n_{name}"
    base, suffix = name, 2
    while name in taken:
        name = f"{base}_{suffix}"
        suffix += 1
    taken.add(name)
    return name


# Attribute names GraphModule / nn.Module / ComposerModel already use: a submodule named like a
# method would be shadowed by it.
_RESERVED_NAMES = set(dir(fx.GraphModule)) | {
    "graph", "code", "spec", "step", "init_state", "aux_loss", "node_summary", "cost", "supports_step",
    "step_plan", "vocab_size", "seed", "meta", "x", "tokens", "training"}


@dataclass
class StepNode:
    """One node of a graph, as ``step`` runs it: module attribute and the attributes it reads."""

    name: str
    inputs: list[str]  # module names of its predecessors; empty for the source (gets the graph input)


def layer_count(parsed: ParsedSpec, key=(None, None)) -> int:
    """Layer indices a scope uses, in the order the compiler hands them out (depth first, one per
    sequence block and repetition); for the top level, the model's ``n_layers``."""
    total = 0
    for node_id in parsed.scopes[key].order:
        node = parsed.nodes[node_id]
        if node.type == "repeat":
            total += node.params["times"] * layer_count(parsed, (node_id, None))
        elif node.type == "chunk":
            total += layer_count(parsed, (node_id, LOCAL_SLOT))
            if (node_id, GLOBAL_SLOT) in parsed.scopes:
                total += layer_count(parsed, (node_id, GLOBAL_SLOT))
        elif not node.entry.structural:
            total += 1
    return total


class _GraphBuilder:
    """Builds the modules of a parsed spec, depth first, in the order layer indices are assigned."""

    def __init__(self, parsed: ParsedSpec, vocab_size: int, seed: int):
        self.parsed = parsed
        self.vocab_size = vocab_size
        self.seed = seed
        self.model = parsed.model
        self.next_layer = 0
        self.n_layers = layer_count(parsed)
        self.embedding: TokenEmbedding | None = None
        self.node_modules: dict[str, list[nn.Module]] = {}  # node id -> its module(s) (one per repetition)

    def build_scope(self, key, max_len: int) -> tuple[dict[str, nn.Module], fx.Graph, list[StepNode]]:
        scope = self.parsed.scopes[key]
        taken: set[str] = set()
        names = {node_id: module_name(node_id, taken) for node_id in scope.order}
        modules: dict[str, nn.Module] = {}
        graph = fx.Graph()
        top_level = key == (None, None)
        graph_input = graph.placeholder("tokens" if top_level else "x")
        values: dict[str, fx.Node] = {}
        plan: list[StepNode] = []
        for node_id in scope.order:
            module = self.build_node(node_id, len(scope.inputs[node_id]), max_len)
            name = names[node_id]
            modules[name] = module
            self.node_modules.setdefault(node_id, []).append(module)
            preds = scope.inputs[node_id]
            args = tuple(values[p] for p in preds) if preds else (graph_input,)
            values[node_id] = graph.call_module(name, args)
            plan.append(StepNode(name, [names[p] for p in preds]))
        graph.output(values[scope.sink])
        graph.lint()
        return modules, graph, plan

    def sub_graph(self, key, max_len: int) -> fx.GraphModule:
        modules, graph, plan = self.build_scope(key, max_len)
        owner, slot = key
        class_name = re.sub(r"\W", "_", f"{owner}_{slot or 'body'}", flags=re.ASCII)
        module = fx.GraphModule(modules, graph, class_name=class_name)
        _keep_attributes(module, step_plan=plan)
        return module

    def build_node(self, node_id: str, num_inputs: int, max_len: int) -> nn.Module:
        node = self.parsed.nodes[node_id]
        d_model, norm = self.model["d_model"], self.model["norm"]
        if node.type == "input":
            self.embedding = TokenEmbedding(self.vocab_size, d_model, self.model["max_seq_len"],
                                            node.params["positions"])
            return self.embedding
        if node.type == "output":
            tied = self.embedding.tokens if self.model["tie_embeddings"] else None
            return OutputHead(d_model, self.vocab_size, norm, tied)
        if node.type == "repeat":
            return Repeat([self.sub_graph((node_id, None), max_len) for _ in range(node.params["times"])])
        if node.type == "chunk":
            size = node.params["chunk_size"]
            local = self.sub_graph((node_id, LOCAL_SLOT), size)
            global_ = None
            if (node_id, GLOBAL_SLOT) in self.parsed.scopes:
                global_ = self.sub_graph((node_id, GLOBAL_SLOT), global_seq_len(max_len, size))
            return ChunkGroup(d_model, size, node.params["summary"], local, global_)
        entry = node.entry
        layer_idx = self.next_layer
        if not entry.structural:
            self.next_layer += 1
        depth = {"n_layers": self.n_layers} if entry.takes_n_layers() else {}
        block = entry.build(d_model=d_model, max_seq_len=max_len, layer_idx=layer_idx,
                            seed=self.seed + layer_idx, **depth, **node.build_params(num_inputs))
        if entry.residual and not entry.structural:
            return PreNormResidual(make_norm(norm, d_model), block)
        return block


class ComposerModel(fx.GraphModule):
    """The compiled model: tokens (B, L) int64 -> logits (B, L, vocab).

    Attributes: ``spec`` (normalised), ``vocab_size``, ``seed``, ``cost`` (the CostSummary).
    ``print(model.code)`` shows the generated forward.
    """

    def aux_loss(self) -> torch.Tensor:
        """Sum of the auxiliary losses (MoE load balancing, already weighted) set by the last forward."""
        device = next(self.parameters()).device
        total = torch.zeros((), device=device)
        for module in self.modules():
            loss = getattr(module, "aux_loss", None)
            if isinstance(loss, torch.Tensor):
                total = total + loss.to(device)
        return total

    def node_summary(self) -> list[dict]:
        """Per node: id, type, params (exact, with its pre-norm and repetitions), flops_per_token."""
        return [
            {"id": row["id"], "type": row["type"], "params": row["params"],
             "flops_per_token": row["flops_per_token"], "activation_bytes": row["activation_bytes"],
             "times": row["times"]}
            for row in self.cost.per_node
        ]

    # -- token-by-token ---------------------------------------------------------------------------

    @property
    def supports_step(self) -> bool:
        """True when every block has a recurrent form (a chunk group has none)."""
        return self._supports_step

    def init_state(self, batch_size: int, device=None, dtype=None) -> dict:
        if not self.supports_step:
            raise NotImplementedError("this spec has blocks without a recurrent form; use forward")
        device = device or next(self.parameters()).device
        dtype = dtype or next(self.parameters()).dtype
        return _graph_init_state(self, batch_size, device, dtype)

    @torch.no_grad()
    def step(self, token_t: torch.Tensor, state: dict) -> tuple[torch.Tensor, dict]:
        """token_t (B,) int64 -> (logits (B, vocab), new state); equals forward position by position."""
        if not self.supports_step:
            raise NotImplementedError("this spec has blocks without a recurrent form; use forward")
        return _graph_step(self, token_t, state)


def _keep_attributes(graph_module: fx.GraphModule, **attributes) -> None:
    """Set attributes that survive copy.deepcopy (GraphModule rebuilds itself from its graph)."""
    for name, value in attributes.items():
        setattr(graph_module, name, value)
    graph_module.meta.setdefault(_USER_PRESERVED_ATTRIBUTES_KEY, {}).update(attributes)


def _graph_init_state(graph_module: nn.Module, batch_size: int, device, dtype) -> dict:
    state = {}
    for node in graph_module.step_plan:
        module = getattr(graph_module, node.name)
        if isinstance(module, Repeat):
            state[node.name] = [_graph_init_state(layer, batch_size, device, dtype) for layer in module.layers]
        elif hasattr(module, "init_state"):
            state[node.name] = module.init_state(batch_size, device, dtype)
    return state


def _graph_step(graph_module: nn.Module, x_t, state: dict):
    values: dict[str, torch.Tensor] = {}
    new_state = dict(state)
    last = None
    for node in graph_module.step_plan:
        module = getattr(graph_module, node.name)
        inputs = [values[n] for n in node.inputs] if node.inputs else [x_t]
        if isinstance(module, Repeat):
            h, layer_states = inputs[0], []
            for layer, layer_state in zip(module.layers, state[node.name]):
                h, layer_state = _graph_step(layer, h, layer_state)
                layer_states.append(layer_state)
            values[node.name], new_state[node.name] = h, layer_states
        elif hasattr(module, "step"):
            values[node.name], new_state[node.name] = module.step(*inputs, state[node.name])
        else:  # stateless per-position modules: norms, merges, the head
            values[node.name] = module(*inputs)
        last = node.name
    return values[last], new_state


def compile_spec(spec, *, vocab_size: int, seed: int = 0, limits: Limits = DEFAULT_LIMITS,
                 causal: bool | None = None) -> ComposerModel:
    """Validate ``spec`` (raising SpecInvalid with every error) and build its model with seeded weights.

    ``causal``: True when the model will be trained on next-token prediction (non-causal blocks are
    then refused whatever model.allow_noncausal says), False when it may see the whole sequence,
    None to leave it to model.allow_noncausal (see validate_spec)."""
    result, parsed = parse_spec(spec, vocab_size=vocab_size, limits=limits, causal=causal)
    if not result.ok:
        raise SpecInvalid(result.errors)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        builder = _GraphBuilder(parsed, vocab_size, seed)
        modules, graph, plan = builder.build_scope((None, None), parsed.model["max_seq_len"])
    model = ComposerModel(modules, graph, class_name="ComposerModel")
    _keep_attributes(
        model, step_plan=plan, spec=result.spec, cost=result.cost, vocab_size=vocab_size, seed=seed,
        # A chunk group has no recurrent form; every other structural entry has one.
        _supports_step=all(node.entry.recurrent for node in parsed.nodes.values()),
    )
    return model
