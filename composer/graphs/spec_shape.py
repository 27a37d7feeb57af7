"""The JSON shape of a spec, checked before anything is stored (never its semantics).

Graph semantics (known block types, parameter ranges, cycles, shapes, resource limits) belong to
``blocks.spec.validate_spec``; this module only makes sure the stored JSON has the structure the
rest of the app relies on (the diff, block-type search, the editor) and that PostgreSQL can store
it (no NUL characters, bounded size and depth).
"""
from __future__ import annotations

import json
from typing import Any

from django.conf import settings

DEFAULT_MAX_SPEC_BYTES = 512 * 1024
MAX_DEPTH = 32
MAX_ID_LENGTH = 200


def max_spec_bytes() -> int:
    return int(getattr(settings, "COMPOSER_MAX_SPEC_BYTES", DEFAULT_MAX_SPEC_BYTES))


def _has_nul_or_too_deep(value: Any, depth: int = 0) -> str | None:
    """Why the JSON value cannot be stored as is (NUL characters, nesting), or None."""
    if depth > MAX_DEPTH:
        return f"is nested more than {MAX_DEPTH} levels deep"
    if isinstance(value, str):
        return "must not contain NUL characters" if "\x00" in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _has_nul_or_too_deep(key, depth + 1) or _has_nul_or_too_deep(item, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = _has_nul_or_too_deep(item, depth + 1)
            if problem:
                return problem
    return None


def storable_json_problem(value: Any) -> str | None:
    """Why a free-form JSON value (tags, spec) cannot be stored, or None."""
    return _has_nul_or_too_deep(value)


def spec_shape_errors(spec: Any) -> dict[str, str]:
    """Shape problems of ``spec`` keyed by the path of the offending field (``nodes[2].id``)."""
    if not isinstance(spec, dict):
        return {"": "must be a JSON object with version, model, nodes and edges"}
    problem = storable_json_problem(spec)
    if problem:
        return {"": problem}
    size = len(json.dumps(spec, separators=(",", ":")))
    if size > max_spec_bytes():
        return {"": f"is {size} bytes, more than the limit of {max_spec_bytes()} bytes"}

    errors: dict[str, str] = {}
    version = spec.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        errors["version"] = "must be an integer"
    for key in ("model", "layout"):
        if key in spec and not isinstance(spec[key], dict):
            errors[key] = "must be a JSON object"

    nodes = spec.get("nodes")
    if not isinstance(nodes, list):
        errors["nodes"] = "must be a list of node objects"
        nodes = []
    for index, node in enumerate(nodes):
        where = f"nodes[{index}]"
        if not isinstance(node, dict):
            errors[where] = "must be a JSON object with id and type"
            continue
        for key in ("id", "type"):
            value = node.get(key)
            if not isinstance(value, str) or not value:
                errors[f"{where}.{key}"] = "must be a non-empty string"
            elif len(value) > MAX_ID_LENGTH:
                errors[f"{where}.{key}"] = f"must be at most {MAX_ID_LENGTH} characters"
        if "params" in node and not isinstance(node["params"], dict):
            errors[f"{where}.params"] = "must be a JSON object"
        for key in ("parent", "slot"):
            if node.get(key) is not None and not isinstance(node[key], str):
                errors[f"{where}.{key}"] = "must be a string"

    edges = spec.get("edges", [])
    if not isinstance(edges, list):
        errors["edges"] = "must be a list of [from, to] pairs"
        edges = []
    for index, edge in enumerate(edges):
        if not (isinstance(edge, list) and len(edge) == 2 and all(isinstance(end, str) for end in edge)):
            errors[f"edges[{index}]"] = "must be a [from, to] pair of node ids"
    return errors


def spec_block_types(spec: dict) -> list[str]:
    """The sorted distinct block type names a (shape-valid) spec uses."""
    return sorted({node["type"] for node in spec.get("nodes", []) if isinstance(node, dict) and isinstance(node.get("type"), str)})
