"""Semantic validation of a spec, through ``blocks.spec.validate_spec``.

The API stores and answers plain JSON: ``{"ok", "errors": [{node_id, field, message, code}],
"cost": {...} | None}``. ``blocks.spec`` is imported lazily: while it is absent (it is written in
parallel) a registry-only check runs instead, which still refuses unknown block types,
duplicate ids and edges to unknown nodes, and reports no cost.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from composer.core.api import optional_import

DEFAULT_VOCAB_SIZE = 256


@dataclass(frozen=True)
class SpecCheck:
    ok: bool
    errors: list[dict] = field(default_factory=list)
    cost: dict | None = None

    def to_json(self) -> dict:
        return {"ok": self.ok, "errors": self.errors, "cost": self.cost}


def _error(node_id, field_name, message, code) -> dict:
    return {"node_id": node_id, "field": field_name, "message": message, "code": code}


def _registry_only_check(spec: dict) -> SpecCheck:
    from blocks.registry import UnknownBlockType, get_block

    errors: list[dict] = []
    seen: set[str] = set()
    for index, node in enumerate(spec.get("nodes", [])):
        node_id = node["id"]
        if node_id in seen:
            errors.append(_error(node_id, "id", f"duplicate node id {node_id!r}", "duplicate_id"))
        seen.add(node_id)
        try:
            get_block(node["type"])
        except UnknownBlockType as unknown:
            errors.append(_error(node_id, "type", str(unknown), "unknown_type"))
    for index, (source, target) in enumerate(spec.get("edges", [])):
        for end in (source, target):
            if end not in seen:
                errors.append(_error(None, f"edges[{index}]", f"edge refers to unknown node {end!r}", "unknown_node"))
    return SpecCheck(ok=not errors, errors=errors, cost=None)


def validate_graph_spec(spec: dict, *, vocab_size: int = DEFAULT_VOCAB_SIZE) -> SpecCheck:
    """Validate a shape-checked spec; every error at once, never raises on bad data."""
    spec_module = optional_import("blocks.spec")
    if spec_module is None or not hasattr(spec_module, "validate_spec"):
        return _registry_only_check(spec)
    result = spec_module.validate_spec(spec, vocab_size=vocab_size)
    cost = result.cost.to_json() if result.cost is not None else None
    return SpecCheck(ok=bool(result.ok), errors=[error.to_json() for error in result.errors], cost=cost)
