"""Parsing checks: the model fields, each node's fields and type, and its params (given, then the defaults
that depend on the model and each block's own ``check`` at the node's context length).

A mixin of ``blocks.spec.validate.Validator``: the methods read and fill its state (``self.model``,
``self.nodes``, ``self.out``).
"""
from __future__ import annotations

from typing import Any

from blocks.library.hierarchy.chunk import LOCAL_SLOT, global_seq_len
from blocks.registry import UnknownBlockType, get_block
from blocks.spec.errors import (
    BAD_MODEL_FIELD,
    BAD_PARAM,
    BLOCK_CHECK,
    D_MODEL_LIMIT,
    DUPLICATE_ID,
    MISSING_FIELD,
    MISSING_ID,
    SEQ_LEN_LIMIT,
    TOO_MANY_NODES,
    UNKNOWN_FIELD,
    UNKNOWN_PARAM,
    UNKNOWN_TYPE,
    WRONG_TYPE,
)
from blocks.spec.format import MAX_ID_LENGTH, MODEL_FIELDS, NODE_KEYS, REQUIRED_MODEL_FIELDS
from blocks.spec.parsed import SpecNode

# Over the node limit the graph is still checked (up to this many times the limit: past it, only the
# one error, so a 2 MB body costs no seconds of checking), listing at most this many more errors
# (then one saying how many were left out).
CHECKED_OVER_NODE_LIMIT = 4
MAX_ERRORS_OVER_NODE_LIMIT = 100


class NodeChecks:
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
