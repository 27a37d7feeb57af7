"""Structural diff between two specs: nodes added/removed/changed, edges added/removed, model changes.

Nodes are matched by id. A node is "changed" when its type, params (compared with defaults as
written, not resolved), parent or slot differ; ``layout`` is editor-only and reported as one flag.
"""
from __future__ import annotations

from typing import Any


def _nodes_by_id(spec: dict) -> dict[str, dict]:
    nodes = spec.get("nodes") if isinstance(spec, dict) else None
    return {node["id"]: node for node in nodes or [] if isinstance(node, dict) and isinstance(node.get("id"), str)}


def _edges(spec: dict) -> set[tuple[str, str]]:
    edges = spec.get("edges") if isinstance(spec, dict) else None
    return {tuple(edge) for edge in edges or [] if isinstance(edge, list) and len(edge) == 2 and all(isinstance(e, str) for e in edge)}


def _dict_changes(before: Any, after: Any) -> dict[str, dict]:
    before = before if isinstance(before, dict) else {}
    after = after if isinstance(after, dict) else {}
    changes = {}
    for key in sorted(set(before) | set(after)):
        if before.get(key) != after.get(key) or (key in before) != (key in after):
            changes[key] = {"from": before.get(key), "to": after.get(key)}
    return changes


def _node_changes(before: dict, after: dict) -> dict | None:
    change: dict[str, Any] = {}
    for key in ("type", "parent", "slot"):
        if before.get(key) != after.get(key):
            change[key] = {"from": before.get(key), "to": after.get(key)}
    params = _dict_changes(before.get("params"), after.get("params"))
    if params:
        change["params"] = params
    if not change:
        return None
    return {"id": after["id"], **change}


def spec_diff(a: dict, b: dict) -> dict:
    """What changed from spec ``a`` to spec ``b``."""
    nodes_a, nodes_b = _nodes_by_id(a), _nodes_by_id(b)
    edges_a, edges_b = _edges(a), _edges(b)
    changed = [
        change
        for node_id in sorted(set(nodes_a) & set(nodes_b))
        if (change := _node_changes(nodes_a[node_id], nodes_b[node_id])) is not None
    ]
    return {
        "nodes_added": [{"id": node_id, "type": nodes_b[node_id].get("type")} for node_id in sorted(set(nodes_b) - set(nodes_a))],
        "nodes_removed": [{"id": node_id, "type": nodes_a[node_id].get("type")} for node_id in sorted(set(nodes_a) - set(nodes_b))],
        "nodes_changed": changed,
        "edges_added": [list(edge) for edge in sorted(edges_b - edges_a)],
        "edges_removed": [list(edge) for edge in sorted(edges_a - edges_b)],
        "model_changed": _dict_changes(a.get("model") if isinstance(a, dict) else None, b.get("model") if isinstance(b, dict) else None),
        "layout_changed": (a.get("layout") if isinstance(a, dict) else None) != (b.get("layout") if isinstance(b, dict) else None),
    }
