"""Graph checks: group membership (parents, slots, nesting), edges, each scope's DAG (one input and output,
or one source and sink per group slot; no cycles, nothing dangling) and causality.

A mixin of ``blocks.spec.validate.Validator``: the methods read its nodes and fill ``self.scopes``.
"""
from __future__ import annotations

from typing import Any

from blocks.registry import UnknownBlockType, get_block
from blocks.spec.errors import (
    BAD_EDGE,
    BAD_PARENT,
    BAD_SLOT,
    BLOCK_CHECK,
    CROSS_GROUP_EDGE,
    CYCLE,
    DANGLING,
    DUPLICATE_EDGE,
    EMPTY_GROUP,
    GROUP_SINKS,
    GROUP_SOURCES,
    INPUT_HAS_INCOMING,
    MERGE_TOO_FEW_INPUTS,
    MISPLACED_STRUCTURAL,
    MISSING_INPUT,
    MISSING_OUTPUT,
    MULTIPLE_INCOMING,
    MULTIPLE_INPUTS,
    MULTIPLE_OUTPUTS,
    NONCAUSAL,
    OUTPUT_HAS_OUTGOING,
    TOO_DEEP,
    UNKNOWN_NODE,
    WRONG_TYPE,
)
from blocks.spec.format import GROUP_SLOTS, MAX_ID_LENGTH, REQUIRED_SLOTS
from blocks.spec.parsed import Scope


def takes_many_inputs(block_type: str) -> bool:
    """Whether the registry lets this node type take several incoming edges (unknown types: one)."""
    try:
        return get_block(block_type).many_inputs
    except UnknownBlockType:
        return False


class GraphChecks:
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
            if takes_many_inputs(node.type):
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
