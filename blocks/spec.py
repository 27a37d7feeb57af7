"""Spec validation with shape inference, resource limits and the cost summary; the spec's JSON Schema.

``validate_spec(spec)`` checks a model spec (see docs/ARCHITECTURE.md, "Spec") and returns
every problem at once as ``SpecError(node_id, field, message, code)``; it never raises on
any JSON input and never allocates a tensor: the cost summary (exact parameter count,
FLOPs per token, activation memory at max_seq_len) is pure arithmetic from the registry's
cost models, so oversized models are refused before anything is built.
``spec_json_schema()`` derives the spec's JSON Schema from the registry
(``python -m blocks.spec`` rewrites docs/spec.schema.json).
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from pathlib import Path
from typing import Any

from blocks.library.hierarchy import GLOBAL_SLOT, LOCAL_SLOT, global_seq_len
from blocks.library.structural import (
    BYTES_PER_FLOAT,
    MERGE_INPUTS_KEY,
    NORM_FLOPS_PER_FEATURE,
    NORM_KINDS,
    norm_param_count,
)
from blocks.registry import BlockType, Cost, Param, UnknownBlockType, all_blocks, get_block

SPEC_VERSION = 1
SCHEMA_PATH = Path(__file__).resolve().parent.parent / "docs" / "spec.schema.json"

# ---- error codes (stable: the API, the editor and tests match on them) --------------------
NOT_AN_OBJECT = "not_an_object"
MISSING_FIELD = "missing_field"
UNKNOWN_FIELD = "unknown_field"
WRONG_TYPE = "wrong_type"
BAD_VERSION = "bad_version"
BAD_MODEL_FIELD = "bad_model_field"
BAD_VOCAB_SIZE = "bad_vocab_size"
MISSING_ID = "missing_id"
DUPLICATE_ID = "duplicate_id"
UNKNOWN_TYPE = "unknown_type"
UNKNOWN_PARAM = "unknown_param"
BAD_PARAM = "bad_param"
BLOCK_CHECK = "block_check"
BAD_EDGE = "bad_edge"
UNKNOWN_NODE = "unknown_node"
DUPLICATE_EDGE = "duplicate_edge"
CROSS_GROUP_EDGE = "cross_group_edge"
CYCLE = "cycle"
DANGLING = "dangling"
MULTIPLE_INCOMING = "multiple_incoming"
MERGE_TOO_FEW_INPUTS = "merge_too_few_inputs"
MISSING_INPUT = "missing_input"
MULTIPLE_INPUTS = "multiple_inputs"
MISSING_OUTPUT = "missing_output"
MULTIPLE_OUTPUTS = "multiple_outputs"
INPUT_HAS_INCOMING = "input_has_incoming"
OUTPUT_HAS_OUTGOING = "output_has_outgoing"
MISPLACED_STRUCTURAL = "misplaced_structural"
BAD_PARENT = "bad_parent"
BAD_SLOT = "bad_slot"
EMPTY_GROUP = "empty_group"
GROUP_SOURCES = "group_sources"
GROUP_SINKS = "group_sinks"
TOO_DEEP = "too_deep"
NONCAUSAL = "noncausal"
TOO_MANY_NODES = "too_many_nodes"
TOO_MANY_LAYERS = "too_many_layers"
TOO_MANY_PARAMS = "too_many_params"
TOO_MUCH_MEMORY = "too_much_memory"
D_MODEL_LIMIT = "d_model_limit"
SEQ_LEN_LIMIT = "seq_len_limit"
COST_FAILED = "cost_failed"
INTERNAL_ERROR = "internal_error"

TOP_LEVEL_KEYS = ("version", "model", "nodes", "edges")
OPTIONAL_TOP_LEVEL_KEYS = ("layout", "name", "description")
NODE_KEYS = ("id", "type", "params", "parent", "slot", "label")
MAX_ID_LENGTH = 100

# Group types and their slots: None is the single unnamed slot of `repeat`.
GROUP_SLOTS: dict[str, tuple[str | None, ...]] = {"repeat": (None,), "chunk": (LOCAL_SLOT, GLOBAL_SLOT)}
REQUIRED_SLOTS: dict[str, tuple[str | None, ...]] = {"repeat": (None,), "chunk": (LOCAL_SLOT,)}

MODEL_FIELDS = (
    Param("d_model", "int", 128, "Width of the residual stream.", min=8, max=4096),
    Param("max_seq_len", "int", 512, "Longest sequence the model accepts.", min=8, max=65536),
    Param("norm", "choice", "rmsnorm", "Normalisation used for pre-norms and the final norm.", choices=NORM_KINDS),
    Param("tie_embeddings", "bool", True, "Share the token embedding with the LM head."),
    Param("allow_noncausal", "bool", False, "Keep blocks that see the future in a draft; they train only on tasks "
          "that read whole sequences (compression), never on next-token tasks."),
)
REQUIRED_MODEL_FIELDS = ("d_model", "max_seq_len")


@dataclass(frozen=True)
class Limits:
    """Resource ceilings checked by arithmetic before anything is built."""

    max_nodes: int = 256
    max_layers: int = 256  # non-structural blocks after expanding repeats
    max_params: int = 1_000_000_000
    max_activation_bytes: float = 16 * 2**30  # batch 1, float32, at max_seq_len
    max_d_model: int = 4096
    max_seq_len: int = 65536
    max_depth: int = 4  # group nesting


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class SpecError:
    node_id: str | None
    field: str
    message: str
    code: str

    def to_json(self) -> dict:
        return {"node_id": self.node_id, "field": self.field, "message": self.message, "code": self.code}


@dataclass
class CostSummary:
    params: int
    flops_per_token: float
    activation_bytes: float
    complexity: str
    per_node: list[dict]
    state_bytes: float = 0.0  # inference state (KV caches, recurrent states) at max_seq_len, float32

    def to_json(self) -> dict:
        return {
            "params": self.params,
            "flops_per_token": self.flops_per_token,
            "activation_bytes": self.activation_bytes,
            "state_bytes": self.state_bytes,
            "complexity": self.complexity,
            "per_node": self.per_node,
        }


@dataclass
class ValidationResult:
    ok: bool
    errors: list[SpecError]
    cost: CostSummary | None
    spec: dict | None = None  # the normalised spec (defaults filled in) when ok

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "errors": [e.to_json() for e in self.errors],
            "cost": self.cost.to_json() if self.cost else None,
        }


class SpecInvalid(ValueError):
    """Raised by the compiler for a spec that does not validate; carries every error."""

    def __init__(self, errors: list[SpecError]):
        self.errors = list(errors)
        head = "; ".join(f"{e.node_id or '-'} {e.field}: {e.message}" for e in self.errors[:5])
        more = f" (+{len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"invalid spec: {head}{more}")


# ---- the parsed form shared with the compiler ----------------------------------------------


@dataclass
class SpecNode:
    id: str
    type: str
    entry: BlockType | None
    params: dict  # defaults overlaid with the given params
    parent: str | None
    slot: str | None
    params_ok: bool = True
    in_graph: bool = True  # False when its parent/slot is broken: left out of graph checks
    given: dict = dataclass_field(default_factory=dict)  # the params the spec itself gives

    @property
    def scope(self) -> tuple[str | None, str | None]:
        return (self.parent, self.slot)

    @property
    def is_group(self) -> bool:
        return self.type in GROUP_SLOTS

    def build_params(self, num_inputs: int) -> dict:
        """Params for the entry's build/cost, plus the in-degree a merge needs."""
        return {**self.params, MERGE_INPUTS_KEY: num_inputs} if self.type == "merge" else dict(self.params)


@dataclass
class Scope:
    """One DAG: the top level (owner None) or one slot of a group."""

    owner: str | None
    slot: str | None
    order: list[str]  # topological
    inputs: dict[str, list[str]]  # node -> predecessors, in edge order
    source: str
    sink: str


@dataclass
class ParsedSpec:
    model: dict
    nodes: dict[str, SpecNode]
    scopes: dict[tuple[str | None, str | None], Scope]
    normalised: dict

    def scope_of_group(self, group_id: str, slot: str | None) -> Scope | None:
        return self.scopes.get((group_id, slot))


# ---- complexity classes ----------------------------------------------------------------------

_COMPLEXITY_NAMES = {0: "O(1)", 1: "O(L)", 2: "O(L log L)", 3: "O(L^1.5)", 4: "O(L^2)"}


def complexity_rank(text: str) -> int:
    """Order complexity strings written by block authors: O(1) < O(L) < O(L log L) < O(L^1.5) < O(L^2)."""
    t = str(text).replace(" ", "").lower()
    if "^2" in t or "²" in t or "l*l" in t or "l·l" in t or "n^2" in t:
        return 4
    if "sqrt" in t or "√" in t or "^1.5" in t or "^(3/2)" in t:
        return 3
    if "log" in t:
        return 2
    if t in ("o(1)",):
        return 0
    return 1


# ---- validation ------------------------------------------------------------------------------


# Over the node limit the graph is still checked (up to this many times the limit: past it, only the
# one error, so a 2 MB body costs no seconds of checking), listing at most this many more errors
# (then one saying how many were left out).
CHECKED_OVER_NODE_LIMIT = 4
MAX_ERRORS_OVER_NODE_LIMIT = 100


class _Collector:
    def __init__(self):
        self.errors: list[SpecError] = []
        self.limit: int | None = None  # most errors kept; the rest only counted in ``dropped``
        self.dropped = 0

    def add(self, node_id: str | None, field_name: str, message: str, code: str) -> None:
        if self.limit is not None and len(self.errors) >= self.limit:
            self.dropped += 1
            return
        self.errors.append(SpecError(node_id, field_name, message, code))


def validate_spec(spec: Any, *, vocab_size: int = 256, limits: Limits = DEFAULT_LIMITS,
                  causal: bool | None = None) -> ValidationResult:
    """Every error in ``spec`` at once, and its cost when the structure is sound. Never raises.

    ``causal`` is what the spec will be trained for, and decides whether non-causal blocks pass:
    True (a next-token task) refuses them whatever ``model.allow_noncausal`` says; False (a task
    that reads whole sequences, e.g. compression) accepts them; None (no task known yet: a saved
    draft, an export) leaves it to ``model.allow_noncausal``.
    """
    result, _ = parse_spec(spec, vocab_size=vocab_size, limits=limits, causal=causal)
    return result


def parse_spec(spec: Any, *, vocab_size: int = 256, limits: Limits = DEFAULT_LIMITS, causal: bool | None = None
               ) -> tuple[ValidationResult, ParsedSpec | None]:
    """validate_spec plus the parsed graph the compiler builds from (None unless ok)."""
    try:
        return _Validator(spec, vocab_size, limits, causal).run()
    except Exception as exc:  # a bug here must not take the API down; tests assert it never happens
        error = SpecError(None, "", f"internal validation error: {type(exc).__name__}: {exc}", INTERNAL_ERROR)
        return ValidationResult(False, [error], None), None


class _Validator:
    def __init__(self, spec: Any, vocab_size: Any, limits: Limits, causal: bool | None = None):
        self.raw = spec
        self.causal = causal
        self.vocab_size = vocab_size
        self.limits = limits
        self.out = _Collector()
        self.model: dict | None = None
        self.nodes: dict[str, SpecNode] = {}
        self.all_ids: set[str] = set()
        self.edges: list[tuple[int, str, str]] = []
        self.scopes: dict[tuple, Scope] = {}
        self.node_count = 0
        self.graph_unchecked = False  # far over the node limit: edges and sub-graphs are not checked

    def run(self) -> tuple[ValidationResult, ParsedSpec | None]:
        err = self.out.add
        spec = self.raw
        if not isinstance(spec, dict):
            err(None, "", f"a spec must be a JSON object, got {type(spec).__name__}", NOT_AN_OBJECT)
            return ValidationResult(False, self.out.errors, None), None
        for key in TOP_LEVEL_KEYS:
            if key not in spec:
                err(None, key, f"missing required field {key!r}", MISSING_FIELD)
        for key in spec:
            if key not in TOP_LEVEL_KEYS and key not in OPTIONAL_TOP_LEVEL_KEYS:
                err(None, str(key), f"unknown field {str(key)!r}", UNKNOWN_FIELD)
        if "version" in spec and (type(spec["version"]) is not int or spec["version"] != SPEC_VERSION):
            err(None, "version", f"version must be {SPEC_VERSION}, got {spec['version']!r:.40}", BAD_VERSION)
        for key in ("name", "description"):
            if key in spec and not isinstance(spec[key], str):
                err(None, key, f"{key} must be a string", WRONG_TYPE)
        if "layout" in spec and not isinstance(spec["layout"], dict):
            err(None, "layout", "layout must be an object (node id -> position)", WRONG_TYPE)
        if isinstance(self.vocab_size, bool) or not isinstance(self.vocab_size, int) or not 2 <= self.vocab_size <= 10**7:
            err(None, "vocab_size", f"vocab_size must be an integer in [2, 10^7], got {self.vocab_size!r}", BAD_VOCAB_SIZE)

        self._check_model(spec.get("model"), "model" in spec)
        self._check_nodes(spec.get("nodes"), "nodes" in spec)
        self._check_parents()
        self._check_block_params()
        self._check_edges(spec.get("edges"), "edges" in spec)
        self._check_graphs()
        self._check_causality()
        if self.out.dropped:
            self.out.errors.append(SpecError(None, "nodes", f"{self.out.dropped} more errors not listed: bring the "
                                             f"graph under the limit of {self.limits.max_nodes} nodes first",
                                             TOO_MANY_NODES))
        cost = None
        if not self.out.errors:
            cost = self._cost_and_limits()
        ok = not self.out.errors
        parsed = None
        normalised = None
        if ok:
            normalised = self._normalised()
            parsed = ParsedSpec(dict(self.model), self.nodes, self.scopes, normalised)
        return ValidationResult(ok, self.out.errors, cost, normalised), parsed

    # -- model ---------------------------------------------------------------------------------

    def _check_model(self, model: Any, present: bool) -> None:
        if not present:
            return
        err = self.out.add
        if not isinstance(model, dict):
            err(None, "model", "model must be an object", WRONG_TYPE)
            return
        resolved: dict = {}
        ok = True
        for key in model:
            if not any(p.name == key for p in MODEL_FIELDS):
                err(None, f"model.{key}", f"unknown model field {str(key)!r}", UNKNOWN_FIELD)
        for param in MODEL_FIELDS:
            if param.name not in model:
                if param.name in REQUIRED_MODEL_FIELDS:
                    err(None, f"model.{param.name}", f"missing required model field {param.name!r}", MISSING_FIELD)
                    ok = False
                resolved[param.name] = param.default
                continue
            problem = param.check(model[param.name])
            if problem:
                err(None, f"model.{param.name}", f"{param.name} {problem}", BAD_MODEL_FIELD)
                ok = False
                continue
            resolved[param.name] = param.coerce(model[param.name])
        if ok:
            if resolved["d_model"] > self.limits.max_d_model:
                err(None, "model.d_model", f"d_model {resolved['d_model']} exceeds the limit "
                    f"{self.limits.max_d_model}", D_MODEL_LIMIT)
            if resolved["max_seq_len"] > self.limits.max_seq_len:
                err(None, "model.max_seq_len", f"max_seq_len {resolved['max_seq_len']} exceeds the limit "
                    f"{self.limits.max_seq_len}", SEQ_LEN_LIMIT)
            self.model = resolved

    # -- nodes ---------------------------------------------------------------------------------

    def _check_nodes(self, nodes: Any, present: bool) -> None:
        if not present:
            return
        err = self.out.add
        if not isinstance(nodes, list):
            err(None, "nodes", "nodes must be a list", WRONG_TYPE)
            return
        self.node_count = len(nodes)
        if len(nodes) > self.limits.max_nodes:
            # One error says so; the nodes and edges are still checked (an edge between two existing
            # nodes stays fine), their errors capped.
            err(None, "nodes", f"{len(nodes)} nodes exceed the limit of {self.limits.max_nodes}", TOO_MANY_NODES)
            if len(nodes) > CHECKED_OVER_NODE_LIMIT * self.limits.max_nodes:
                self.graph_unchecked = True
                return
            self.out.limit = len(self.out.errors) + MAX_ERRORS_OVER_NODE_LIMIT
        for index, node in enumerate(nodes):
            where = f"nodes[{index}]"
            if not isinstance(node, dict):
                err(None, where, "a node must be an object", WRONG_TYPE)
                continue
            node_id = node.get("id")
            if not isinstance(node_id, str) or not node_id or len(node_id) > MAX_ID_LENGTH:
                err(None, f"{where}.id", f"a node needs an id: a non-empty string of at most {MAX_ID_LENGTH} "
                    "characters", MISSING_ID)
                continue
            if node_id in self.all_ids:
                err(node_id, "id", f"duplicate node id {node_id!r}", DUPLICATE_ID)
                continue
            self.all_ids.add(node_id)
            for key in node:
                if key not in NODE_KEYS:
                    err(node_id, str(key), f"unknown node field {str(key)!r}", UNKNOWN_FIELD)
            if "label" in node and not isinstance(node["label"], str):
                err(node_id, "label", "label must be a string", WRONG_TYPE)
            parent = node.get("parent")
            slot = node.get("slot")
            spec_node = SpecNode(node_id, "", None, {}, None, None)
            if parent is not None and not isinstance(parent, str):
                err(node_id, "parent", "parent must be a node id (string)", WRONG_TYPE)
                spec_node.in_graph = False
            else:
                spec_node.parent = parent
            if slot is not None and not isinstance(slot, str):
                err(node_id, "slot", "slot must be a string", WRONG_TYPE)
                spec_node.in_graph = False
            else:
                spec_node.slot = slot
            self.nodes[node_id] = spec_node
            block_type = node.get("type")
            if not isinstance(block_type, str):
                err(node_id, "type", "type must be a block type name (string)", UNKNOWN_TYPE if "type" in node
                    else MISSING_FIELD)
                spec_node.params_ok = False
                continue
            spec_node.type = block_type
            try:
                entry = get_block(block_type)
            except UnknownBlockType:
                err(node_id, "type", f"unknown block type {block_type!r:.60}", UNKNOWN_TYPE)
                spec_node.params_ok = False
                continue
            spec_node.entry = entry
            spec_node.params_ok = self._check_given_params(spec_node, node.get("params"))
            if spec_node.params_ok:
                spec_node.given = dict(node.get("params") or {})
                spec_node.params = entry.resolve_params(spec_node.given)

    def _check_given_params(self, node: SpecNode, given: Any) -> bool:
        err = self.out.add
        if given is None:  # absent or null: all defaults
            return True
        if not isinstance(given, dict):
            err(node.id, "params", "params must be an object", WRONG_TYPE)
            return False
        ok = True
        for key, value in given.items():
            param = node.entry.param(key) if isinstance(key, str) else None
            if param is None:
                known = ", ".join(p.name for p in node.entry.params) or "none"
                err(node.id, f"params.{key}", f"{node.type} has no param {str(key)!r} (known: {known})", UNKNOWN_PARAM)
                ok = False
                continue
            problem = param.check(value)
            if problem:
                err(node.id, f"params.{key}", f"{key} {problem}", BAD_PARAM)
                ok = False
        return ok

    # -- groups ----------------------------------------------------------------------------------

    def _check_parents(self) -> None:
        err = self.out.add
        for node in self.nodes.values():
            if node.type in ("input", "output") and (node.parent is not None or node.slot is not None):
                err(node.id, "parent", f"{node.type} must be at the top level, not inside a group",
                    MISPLACED_STRUCTURAL)
                node.in_graph = False
                continue
            if node.parent is None:
                if node.slot is not None:
                    err(node.id, "slot", "slot is only for children of a group", BAD_SLOT)
                    node.in_graph = False
                continue
            parent = self.nodes.get(node.parent)
            if parent is None:
                message = (f"parent {node.parent!r:.60} is not a node" if node.parent not in self.all_ids
                           else f"parent {node.parent!r} is not a valid node")
                err(node.id, "parent", message, BAD_PARENT)
                node.in_graph = False
                continue
            if not parent.is_group:
                err(node.id, "parent", f"parent {parent.id!r} is a {parent.type or 'broken node'}, not a group "
                    f"({', '.join(GROUP_SLOTS)})", BAD_PARENT)
                node.in_graph = False
                continue
            slots = GROUP_SLOTS[parent.type]
            if node.slot not in slots:
                wanted = "no slot" if slots == (None,) else f"slot one of {[s for s in slots if s]}"
                err(node.id, "slot", f"a child of {parent.type} {parent.id!r} needs {wanted}", BAD_SLOT)
                node.in_graph = False
        # Depth (and loops) along parent chains.
        for node in self.nodes.values():
            if not node.in_graph or node.parent is None:
                continue
            depth, seen, cursor, looped = 0, {node.id}, node, False
            while cursor.parent is not None and cursor.parent in self.nodes:
                depth += 1
                cursor = self.nodes[cursor.parent]
                if cursor.id in seen:
                    looped = True
                    break
                seen.add(cursor.id)
            if looped:
                err(node.id, "parent", "the parent chain loops back on itself", BAD_PARENT)
                node.in_graph = False
            elif depth > self.limits.max_depth:
                err(node.id, "parent", f"groups nested {depth} deep exceed the limit of "
                    f"{self.limits.max_depth}", TOO_DEEP)
                node.in_graph = False
        # A node whose ancestor is out of the graph is out too.
        changed = True
        while changed:
            changed = False
            for node in self.nodes.values():
                if node.in_graph and node.parent is not None and not self.nodes[node.parent].in_graph:
                    node.in_graph = False
                    changed = True

    def _context_len(self, node: SpecNode) -> int | None:
        """Longest sequence a node sees: max_seq_len, or what its chunk ancestors make of it."""
        if self.model is None:
            return None
        if node.parent is None:
            return self.model["max_seq_len"]
        parent = self.nodes[node.parent]
        outer = self._context_len(parent)
        if outer is None or not parent.params_ok:
            return None
        if parent.type == "chunk":
            size = parent.params["chunk_size"]
            return size if node.slot == LOCAL_SLOT else global_seq_len(outer, size)
        return outer

    def _check_block_params(self) -> None:
        """Fill the defaults that depend on the model (``Param.context_default``), then run each
        block's ``check`` at the node's own context length."""
        if self.model is None:
            return
        for node in self.nodes.values():
            if not node.params_ok or node.entry is None or not node.in_graph:
                continue
            length = self._context_len(node)
            if length is None:
                continue
            if node.entry.scales_with_model():
                node.params = node.entry.resolve_params(node.given, d_model=self.model["d_model"], max_seq_len=length)
            if node.entry.check is None:
                continue
            where = "" if length == self.model["max_seq_len"] else f" (inside a chunk: sequence length {length})"
            try:
                problems = list(node.entry.check(self.model["d_model"], length, dict(node.params)))
            except Exception as exc:  # a block's check must not crash validation
                problems = [("", f"check failed: {type(exc).__name__}: {exc}")]
            for param_name, message in problems:
                self.out.add(node.id, f"params.{param_name}" if param_name else "params", f"{message}{where}",
                             BLOCK_CHECK)
                node.params_ok = False

    # -- edges and graphs ------------------------------------------------------------------------

    def _check_edges(self, edges: Any, present: bool) -> None:
        if not present or self.graph_unchecked:
            return
        err = self.out.add
        if not isinstance(edges, list):
            err(None, "edges", "edges must be a list of [source, target] pairs", WRONG_TYPE)
            return
        seen: set[tuple[str, str]] = set()
        for index, edge in enumerate(edges):
            where = f"edges[{index}]"
            if not (isinstance(edge, list) and len(edge) == 2 and all(isinstance(e, str) for e in edge)):
                err(None, where, "an edge is a [source, target] pair of node ids", BAD_EDGE)
                continue
            source, target = edge
            bad = False
            for end in (source, target):
                if end not in self.all_ids:
                    err(end[:MAX_ID_LENGTH], where, f"edge refers to unknown node {end!r:.60}", UNKNOWN_NODE)
                    bad = True
            if bad:
                continue
            if (source, target) in seen:
                err(target, where, f"duplicate edge {source!r} -> {target!r}", DUPLICATE_EDGE)
                continue
            seen.add((source, target))
            if source == target:
                err(source, where, f"edge {source!r} -> itself makes a cycle", CYCLE)
                continue
            a, b = self.nodes.get(source), self.nodes.get(target)
            if a is None or b is None or not a.in_graph or not b.in_graph:
                continue  # the broken node already has its error
            if a.scope != b.scope:
                err(target, where, f"edge {source!r} -> {target!r} crosses a group boundary "
                    f"({_scope_name(a.scope)} -> {_scope_name(b.scope)}); connect the group node instead",
                    CROSS_GROUP_EDGE)
                continue
            self.edges.append((index, source, target))

    def _check_graphs(self) -> None:
        if "nodes" not in self.raw or not isinstance(self.raw.get("nodes"), list) or self.graph_unchecked:
            return
        members: dict[tuple, list[str]] = {(None, None): []}
        for node in self.nodes.values():
            if node.is_group and node.in_graph:
                for slot in GROUP_SLOTS[node.type]:
                    members.setdefault((node.id, slot), [])
        for node in self.nodes.values():
            if node.in_graph:
                members.setdefault(node.scope, []).append(node.id)
        for key, ids in members.items():
            self._check_scope(key, ids)

    def _check_scope(self, key: tuple, ids: list[str]) -> None:
        err = self.out.add
        owner, slot = key
        preds: dict[str, list[str]] = {i: [] for i in ids}
        succs: dict[str, list[str]] = {i: [] for i in ids}
        for _, source, target in self.edges:
            if source in preds and target in preds:
                preds[target].append(source)
                succs[source].append(target)
        slot_field = "children" if slot is None else f"slot.{slot}"
        if owner is not None and not ids:
            group = self.nodes[owner]
            if slot in REQUIRED_SLOTS[group.type]:
                err(owner, slot_field, f"{group.type} {owner!r} has no children"
                    + ("" if slot is None else f" in slot {slot!r}"), EMPTY_GROUP)
            return
        for node_id in ids:
            node = self.nodes[node_id]
            if node.type == "merge":
                if len(preds[node_id]) < 2:
                    err(node_id, "edges", f"merge {node_id!r} needs at least two incoming edges, has "
                        f"{len(preds[node_id])}", MERGE_TOO_FEW_INPUTS)
            elif len(preds[node_id]) > 1:
                err(node_id, "edges", f"{node_id!r} has {len(preds[node_id])} incoming edges; only a merge "
                    "may have more than one", MULTIPLE_INCOMING)
        if owner is None:
            source, sink = self._top_level_ends(ids, preds, succs)
        else:
            source, sink = self._group_ends(owner, slot_field, ids, preds, succs)
        # Topological order (Kahn), stable in the spec's node order.
        remaining = {i: len(preds[i]) for i in ids}
        order = []
        ready = [i for i in ids if remaining[i] == 0]
        while ready:
            current = ready.pop(0)
            order.append(current)
            for nxt in succs[current]:
                remaining[nxt] -= 1
                if remaining[nxt] == 0:
                    ready.append(nxt)
        if len(order) < len(ids):
            stuck = [i for i in ids if i not in set(order)]
            err(stuck[0], "edges", f"cycle through {', '.join(repr(s) for s in stuck[:8])}", CYCLE)
            return
        if source is None or sink is None:
            return
        forward = _reachable(source, succs)
        backward = _reachable(sink, preds)
        for node_id in ids:
            if node_id not in forward or node_id not in backward:
                where = "input" if owner is None else "the group's source"
                end = "output" if owner is None else "the group's sink"
                err(node_id, "edges", f"{node_id!r} is not on a path from {where} to {end}", DANGLING)
        self.scopes[key] = Scope(owner, slot, order, preds, source, sink)

    def _top_level_ends(self, ids, preds, succs) -> tuple[str | None, str | None]:
        err = self.out.add
        inputs = [i for i in ids if self.nodes[i].type == "input"]
        outputs = [i for i in ids if self.nodes[i].type == "output"]
        if not inputs:
            err(None, "nodes", "the graph needs one node of type 'input'", MISSING_INPUT)
        for extra in inputs[1:]:
            err(extra, "type", f"only one input allowed (already have {inputs[0]!r})", MULTIPLE_INPUTS)
        if not outputs:
            err(None, "nodes", "the graph needs one node of type 'output'", MISSING_OUTPUT)
        for extra in outputs[1:]:
            err(extra, "type", f"only one output allowed (already have {outputs[0]!r})", MULTIPLE_OUTPUTS)
        for i in inputs:
            if preds[i]:
                err(i, "edges", "the input cannot have incoming edges", INPUT_HAS_INCOMING)
        for o in outputs:
            if succs[o]:
                err(o, "edges", "the output cannot have outgoing edges", OUTPUT_HAS_OUTGOING)
        if len(inputs) != 1 or len(outputs) != 1:
            return None, None
        return inputs[0], outputs[0]

    def _group_ends(self, owner, slot_field, ids, preds, succs) -> tuple[str | None, str | None]:
        err = self.out.add
        sources = [i for i in ids if not preds[i]]
        sinks = [i for i in ids if not succs[i]]
        if len(sources) != 1:
            err(owner, slot_field, f"a group's sub-graph needs exactly one source (a child with no incoming edge), "
                f"found {len(sources)}: {sources[:8]}", GROUP_SOURCES)
        if len(sinks) != 1:
            err(owner, slot_field, f"a group's sub-graph needs exactly one sink (a child with no outgoing edge), "
                f"found {len(sinks)}: {sinks[:8]}", GROUP_SINKS)
        if len(sources) != 1 or len(sinks) != 1:
            return None, None
        return sources[0], sinks[0]

    def _check_causality(self) -> None:
        # The one place that decides whether a block may see the future (see validate_spec's causal).
        if self.model is None or self.causal is False or (self.causal is None and self.model["allow_noncausal"]):
            return
        for node in self.nodes.values():
            if node.entry is None or not node.params_ok:
                continue
            try:
                causal = node.entry.is_causal(dict(node.params))
            except Exception as exc:
                self.out.add(node.id, "type", f"causality check failed: {exc}", BLOCK_CHECK)
                continue
            if not causal and self.causal:
                self.out.add(node.id, "type", f"{node.type} is not causal with these params (it sees future "
                             "tokens), so it cannot be trained on a next-token task, whatever model.allow_noncausal "
                             "says; use it on a task that reads whole sequences, such as compression", NONCAUSAL)
            elif not causal:
                self.out.add(node.id, "type", f"{node.type} is not causal with these params (it sees future "
                             "tokens); set model.allow_noncausal to keep it in a draft (it can then be trained only "
                             "on tasks that read whole sequences, such as compression)", NONCAUSAL)

    # -- cost and limits --------------------------------------------------------------------------

    def _cost_and_limits(self) -> CostSummary | None:
        model = self.model
        max_len = model["max_seq_len"]
        self.rows: list[dict] = []
        self.layers = 0
        self.worst = 1  # the embedding and head are already linear in L
        self.cost_broken = False
        total = self._scope_cost((None, None), max_len, 1, 1, bounded=False)
        if self.cost_broken:
            return None
        summary = CostSummary(int(total.params), float(total.flops_per_token), float(total.activation_bytes),
                              _COMPLEXITY_NAMES[self.worst], self.rows, float(total.state_bytes))
        err = self.out.add
        if self.layers > self.limits.max_layers:
            err(None, "nodes", f"{self.layers} layers after expanding repeats exceed the limit of "
                f"{self.limits.max_layers}", TOO_MANY_LAYERS)
        if summary.params > self.limits.max_params:
            err(None, "model", f"{summary.params:,} parameters exceed the limit of {self.limits.max_params:,}",
                TOO_MANY_PARAMS)
        if summary.activation_bytes > self.limits.max_activation_bytes:
            err(None, "model.max_seq_len", f"activations at max_seq_len {max_len} need "
                f"{summary.activation_bytes / 2**30:.2f} GiB (batch 1, float32), over the limit of "
                f"{self.limits.max_activation_bytes / 2**30:.2f} GiB", TOO_MUCH_MEMORY)
        return summary

    def _scope_cost(self, key, length: int, count: int, times: int, *, bounded: bool) -> Cost:
        """Total cost per model token of one scope whose sequences have ``length`` tokens,
        ``count`` of them per model sequence, repeated ``times``. ``bounded`` inside a chunk's
        local slot, where the length is fixed whatever the model's length."""
        model = self.model
        d_model, model_len = model["d_model"], model["max_seq_len"]
        scope = self.scopes[key]
        total = Cost(0, 0.0, 0.0)
        # Per-model-token scaling: this scope processes length*count positions per model sequence.
        token_ratio = length * count / model_len
        for node_id in scope.order:
            node = self.nodes[node_id]
            params = node.build_params(len(scope.inputs[node_id]))
            try:
                own = node.entry.cost(d_model, model_len if node.type == "input" else length, params)
                # A decoder holds each node's state once, whatever `count` sequences the parallel form runs.
                own = Cost(int(own.params), float(own.flops_per_token), float(own.activation_bytes),
                           float(node.entry.state(d_model, length, params)))
            except Exception as exc:
                self.out.add(node.id, "params", f"cost model failed: {type(exc).__name__}: {exc}", COST_FAILED)
                self.cost_broken = True
                continue
            params_count = own.params
            flops = own.flops_per_token * token_ratio
            activations = own.activation_bytes * count
            if node.type == "input":
                params_count += self.vocab_size * d_model
                activations = float(model_len * d_model * BYTES_PER_FLOAT)
            elif node.type == "output":
                params_count += norm_param_count(model["norm"], d_model)
                if not model["tie_embeddings"]:
                    params_count += self.vocab_size * d_model
                flops += 2.0 * d_model * self.vocab_size + NORM_FLOPS_PER_FEATURE * d_model
                activations += float(model_len * (d_model + self.vocab_size) * BYTES_PER_FLOAT)
            elif not node.entry.structural:
                self.layers += times
                if node.entry.residual:  # pre-norm + residual add
                    params_count += norm_param_count(model["norm"], d_model)
                    flops += (NORM_FLOPS_PER_FEATURE + 1) * d_model * token_ratio
                    activations += float(length * d_model * BYTES_PER_FLOAT * count)
                rank = 1 if bounded else complexity_rank(node.entry.complexity)
                self.worst = max(self.worst, rank)
            row_index = len(self.rows)
            self.rows.append({
                "id": node.id, "type": node.type, "family": node.entry.family,
                "params": params_count * times, "flops_per_token": flops * times,
                "activation_bytes": activations * times, "state_bytes": own.state_bytes * times,
                "complexity": node.entry.complexity, "times": times, "seq_len": length,
            })
            node_total = Cost(params_count, flops, activations, own.state_bytes).scaled(times)
            if node.type == "repeat":
                inner = self._scope_cost((node.id, None), length, count, times * node.params["times"],
                                         bounded=bounded)
                node_total = node_total + inner
            elif node.type == "chunk":
                size = node.params["chunk_size"]
                chunks = math.ceil(length / size)
                node_total = node_total + self._scope_cost((node.id, LOCAL_SLOT), size, count * chunks, times,
                                                           bounded=True)
                if (node.id, GLOBAL_SLOT) in self.scopes:
                    node_total = node_total + self._scope_cost((node.id, GLOBAL_SLOT), chunks, count, times,
                                                               bounded=bounded)
            self.rows[row_index]["subtree_params"] = node_total.params
            self.rows[row_index]["subtree_state_bytes"] = node_total.state_bytes
            total = total + node_total
        return total

    def _normalised(self) -> dict:
        """The spec with defaults filled in (params resolved, model complete)."""
        spec = self.raw
        nodes = []
        for raw in spec["nodes"]:
            node = self.nodes[raw["id"]]
            out = {"id": node.id, "type": node.type, "params": dict(node.params)}
            if node.parent is not None:
                out["parent"] = node.parent
            if node.slot is not None:
                out["slot"] = node.slot
            if "label" in raw:
                out["label"] = raw["label"]
            nodes.append(out)
        normalised = {"version": SPEC_VERSION, "model": dict(self.model), "nodes": nodes,
                      "edges": [list(e) for e in spec["edges"]]}
        for key in OPTIONAL_TOP_LEVEL_KEYS:
            if key in spec:
                normalised[key] = spec[key]
        return normalised


def _reachable(start: str, neighbours: dict[str, list[str]]) -> set[str]:
    seen, stack = {start}, [start]
    while stack:
        for nxt in neighbours[stack.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _scope_name(scope: tuple) -> str:
    owner, slot = scope
    if owner is None:
        return "top level"
    return f"group {owner!r}" + (f" slot {slot!r}" if slot else "")


# ---- JSON Schema ------------------------------------------------------------------------------


def spec_json_schema() -> dict:
    """The spec's JSON Schema (draft 2020-12), with each block type's params schema chosen by `type`.

    It checks the spec's shape only; graph rules (cycles, groups, limits) are validate_spec's.
    """
    blocks = all_blocks()
    per_type = [
        {
            "if": {"properties": {"type": {"const": b.name}}, "required": ["type"]},
            "then": {"properties": {"params": b.params_json_schema()}},
        }
        for b in blocks
    ]
    model_properties = {p.name: p.json_schema() for p in MODEL_FIELDS}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://composer.dev/schemas/spec.schema.json",
        "title": "Composer model spec",
        "description": f"Version {SPEC_VERSION}. Generated from the block registry by blocks/spec.py; "
                       "do not edit by hand (python -m blocks.spec).",
        "type": "object",
        "required": list(TOP_LEVEL_KEYS),
        "additionalProperties": False,
        "properties": {
            "version": {"const": SPEC_VERSION},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "model": {
                "type": "object",
                "required": list(REQUIRED_MODEL_FIELDS),
                "additionalProperties": False,
                "properties": model_properties,
            },
            "nodes": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            "edges": {
                "type": "array",
                "items": {
                    "type": "array",
                    "prefixItems": [{"type": "string"}, {"type": "string"}],
                    "minItems": 2,
                    "maxItems": 2,
                },
            },
            "layout": {"type": "object", "description": "Editor-only positions; never changes the model."},
        },
        "$defs": {
            "node": {
                "type": "object",
                "required": ["id", "type"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
                    "type": {"enum": [b.name for b in blocks]},
                    "params": {"type": "object"},
                    "parent": {"type": "string", "description": "Id of the group (repeat, chunk) this node is in."},
                    "slot": {"enum": [LOCAL_SLOT, GLOBAL_SLOT], "description": "Which sub-graph of a chunk."},
                    "label": {"type": "string"},
                },
                "allOf": per_type,
            }
        },
    }


def spec_json_schema_text() -> str:
    """The schema exactly as stored in docs/spec.schema.json."""
    return json.dumps(spec_json_schema(), indent=2, ensure_ascii=False) + "\n"


def write_spec_schema(path: Path = SCHEMA_PATH) -> Path:
    path.write_text(spec_json_schema_text(), encoding="utf-8")
    return path


if __name__ == "__main__":  # python -m blocks.spec [path]: regenerate the stored schema
    print(write_spec_schema(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_PATH))
