"""Semantic validation of a spec, through ``blocks.spec.validate_spec``.

The API stores and answers plain JSON: ``{"ok", "errors": [{node_id, field, message, code}],
"cost": {...} | None}``. ``blocks.spec`` and the registry it reads are plain Python: validating and
costing a spec never imports torch, so the web process stays light.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from blocks.spec import validate_spec

DEFAULT_VOCAB_SIZE = 256


@dataclass(frozen=True)
class SpecCheck:
    ok: bool
    errors: list[dict] = field(default_factory=list)
    cost: dict | None = None

    def to_json(self) -> dict:
        return {"ok": self.ok, "errors": self.errors, "cost": self.cost}


def validate_graph_spec(spec: dict, *, vocab_size: int = DEFAULT_VOCAB_SIZE) -> SpecCheck:
    """Validate a shape-checked spec; every error at once, never raises on bad data."""
    result = validate_spec(spec, vocab_size=vocab_size)
    cost = result.cost.to_json() if result.cost is not None else None
    return SpecCheck(ok=bool(result.ok), errors=[error.to_json() for error in result.errors], cost=cost)
