"""``validate_spec`` and ``parse_spec``: every problem of a spec at once, never raising, and the parsed
graph the compiler builds from. The ``Validator`` runs the checks in order: top level, model and nodes
(``blocks.spec.nodes``), groups, edges, scopes and causality (``blocks.spec.graph``), then the cost and
limits (``blocks.spec.cost``), and writes the normalised spec (defaults filled in).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blocks.spec.cost import CostChecks, CostSummary
from blocks.spec.errors import (
    BAD_VERSION,
    BAD_VOCAB_SIZE,
    INTERNAL_ERROR,
    MISSING_FIELD,
    NOT_AN_OBJECT,
    TOO_MANY_NODES,
    UNKNOWN_FIELD,
    WRONG_TYPE,
    ErrorCollector,
    SpecError,
)
from blocks.spec.format import DEFAULT_LIMITS, OPTIONAL_TOP_LEVEL_KEYS, SPEC_VERSION, TOP_LEVEL_KEYS, Limits
from blocks.spec.graph import GraphChecks
from blocks.spec.nodes import NodeChecks
from blocks.spec.parsed import ParsedSpec, Scope, SpecNode


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
        return Validator(spec, vocab_size, limits, causal).run()
    except Exception as exc:  # a bug here must not take the API down; tests assert it never happens
        error = SpecError(None, "", f"internal validation error: {type(exc).__name__}: {exc}", INTERNAL_ERROR)
        return ValidationResult(False, [error], None), None


class Validator(NodeChecks, GraphChecks, CostChecks):
    def __init__(self, spec: Any, vocab_size: Any, limits: Limits, causal: bool | None = None):
        self.raw = spec
        self.causal = causal
        self.vocab_size = vocab_size
        self.limits = limits
        self.out = ErrorCollector()
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
