"""The spec's JSON Schema, derived from the registry (``python -m blocks.spec`` rewrites docs/spec.schema.json)."""
from __future__ import annotations

import json
from pathlib import Path

from blocks.library.hierarchy.chunk import GLOBAL_SLOT, LOCAL_SLOT
from blocks.registry import all_blocks
from blocks.spec.format import (
    MAX_ID_LENGTH,
    MODEL_FIELDS,
    REQUIRED_MODEL_FIELDS,
    SPEC_VERSION,
    TOP_LEVEL_KEYS,
)

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "spec.schema.json"


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
        "description": f"Version {SPEC_VERSION}. Generated from the block registry by blocks/spec/schema.py; "
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
