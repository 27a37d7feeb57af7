"""What the OpenAPI schema says beyond each view's serializers: the error body and the statuses
that answer it on every operation, the spec as its own JSON Schema, and examples built when the
schema is.

- ``ApiSchema`` (every ``ApiView``'s schema): adds the ``Error`` body (``{"message", "extra"}``,
  what ``composer.core.errors`` answers) for each status the operation can meet: 403 unless it has
  no authentication and allows anyone,
  404 with path parameters, 400 with a body or query parameters, 409/413/415/429 on writes,
  503 always (a service it needs is down), and those in the view's ``openapi_error_codes``
  (e.g. 404 for ids given in the query). A view's ``openapi_examples()`` (a classmethod) gives
  examples that need the registries, so they are built with the schema, not at import.
- ``SpecFieldExtension``: a spec in a request is the ``Spec`` component, which is
  ``blocks.spec.spec_json_schema()`` (JSON Schema 2020-12) rewritten in the OpenAPI 3.0 dialect
  (``openapi_dialect``); nothing about a spec is written here. ``spec_example()`` is a shipped
  example's spec, for the request examples.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

from django.conf import settings
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import serializers
from rest_framework.permissions import AllowAny

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
ERROR_DESCRIPTIONS = {
    "400": "Invalid input: the message names the first bad field, `extra.fields` lists every field's errors.",
    "403": "Not logged in, or not allowed to do this.",
    "404": "No such object, or one you may not read.",
    "409": "Refused in the object's current state (finished, still in use).",
    "413": "The request body is over the server's limit (`extra.limit_bytes`).",
    "415": "The body is not JSON.",
    "429": "Throttled or over a per-user limit; `extra.retry_after_seconds` or `extra.limit` says which.",
    "503": "A service the request needs is down; `extra.unavailable` names it.",
}


class ErrorOutput(serializers.Serializer):
    """Every error the API answers (``composer.core.errors``)."""

    class Meta:
        ref_name = "Error"

    message = serializers.CharField(help_text='What went wrong, naming the field: "Invalid input: spec.nodes[0].id: ..."')
    extra = serializers.DictField(help_text="Details: `fields` (every field's errors), `unavailable`, `limit`, ...")


class ApiSchema(AutoSchema):
    def error_codes(self, operation: dict) -> list[str]:
        parameters = operation.get("parameters", [])
        codes = {"503"}
        if self.view.get_authenticators() or not all(isinstance(p, AllowAny) for p in self.view.get_permissions()):
            codes.add("403")  # a bad token, a missing login or a refused permission
        if any(p["in"] == "path" for p in parameters):
            codes.add("404")
        if any(p["in"] == "query" for p in parameters):
            codes.add("400")
        if self.method not in SAFE_METHODS:
            codes |= {"400", "409", "413", "415", "429"}
        return sorted(codes | set(getattr(self.view, "openapi_error_codes", ())))

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        responses = operation["responses"]
        for code in self.error_codes(operation):
            if code not in responses:
                responses[code] = self._get_response_for_code(ErrorOutput, code)
                responses[code]["description"] = ERROR_DESCRIPTIONS[code]
        return operation

    def get_examples(self):
        build = getattr(self.view, "openapi_examples", None)
        return [*super().get_examples(), *(build() if build else [])]


# --- the spec ---------------------------------------------------------------------------------

SPEC_COMPONENT = "Spec"
DROPPED_KEYWORDS = ("$schema", "$id", "$defs")
DEFS_PREFIX = "#/$defs/"


def _discriminated_variants(schema: dict) -> list[dict] | None:
    """``allOf: [{if: {properties: {P: {const: v}}}, then: T}, ...]`` (one branch per value of P)
    as one variant per branch: the schema with ``P`` fixed to ``v`` and ``T``'s properties in."""
    branches = schema.get("allOf") or []
    if not branches or not all(set(b) == {"if", "then"} for b in branches):
        return None
    variants = []
    base = {key: value for key, value in schema.items() if key != "allOf"}
    for branch in branches:
        (name, condition), = branch["if"]["properties"].items()
        variant = copy.deepcopy(base)
        variant["properties"][name] = {"const": condition["const"]}
        variant["properties"].update(copy.deepcopy(branch["then"].get("properties", {})))
        variants.append(variant)
    return variants


def openapi_dialect(schema, defs: dict | None = None):
    """A JSON Schema 2020-12 document in the OpenAPI 3.0 dialect: ``const`` as a one-value enum,
    same-typed ``prefixItems`` as ``items``, ``$defs`` references inlined, and an ``allOf`` of
    ``if``/``then`` branches keyed by one property's value as ``anyOf`` its variants.

    Inlined, not made components: drf-spectacular's enum post-processing names the enums of a
    component's properties by property name, and would merge the variants' one-value ``type``
    enums into one; it does not look inside an array's ``items``."""
    if defs is None:
        defs = schema.get("$defs", {}) if isinstance(schema, dict) else {}
    if isinstance(schema, list):
        return [openapi_dialect(item, defs) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if set(schema) == {"$ref"} and schema["$ref"].startswith(DEFS_PREFIX):
        return openapi_dialect(defs[schema["$ref"].removeprefix(DEFS_PREFIX)], defs)
    variants = _discriminated_variants(schema)
    if variants is not None:
        return {"anyOf": [openapi_dialect(variant, defs) for variant in variants]}
    result = {}
    for key, value in schema.items():
        if key in DROPPED_KEYWORDS:
            continue
        if key == "const":
            result["enum"] = [value]
        elif key == "prefixItems":
            if len({json.dumps(item, sort_keys=True) for item in value}) != 1:
                raise ValueError(f"prefixItems of different schemas have no OpenAPI 3.0 form: {value}")
            result["items"] = openapi_dialect(value[0], defs)
        elif key == "properties":  # property names are names, not keywords
            result[key] = {name: openapi_dialect(sub, defs) for name, sub in value.items()}
        else:
            result[key] = openapi_dialect(value, defs)
    return result


def spec_openapi_schema() -> dict:
    """The ``Spec`` component: the spec's JSON Schema in the OpenAPI 3.0 dialect."""
    from blocks.spec import spec_json_schema

    return openapi_dialect(spec_json_schema())


def spec_example() -> dict:
    """The first shipped example's spec (``examples/index.json`` lists them): a valid graph for the
    request examples, so a client (or a fuzzer) reading the schema has one that trains."""
    examples = Path(settings.BASE_DIR) / "examples"
    first = next(iter(json.loads((examples / "index.json").read_text(encoding="utf-8"))))
    return json.loads((examples / first).read_text(encoding="utf-8"))


class SpecFieldExtension(OpenApiSerializerFieldExtension):
    """A spec in a request body is the ``Spec`` component; in a response it is any object (a
    stored draft may break the schema: its ``is_valid`` says so)."""

    target_class = "composer.graphs.apis.SpecField"

    def map_serializer_field(self, auto_schema, direction):
        if direction == "response":
            return {"type": "object", "additionalProperties": True}
        spec = ResolvedComponent(name=SPEC_COMPONENT, type=ResolvedComponent.SCHEMA, object=SPEC_COMPONENT,
                                 schema=spec_openapi_schema())
        auto_schema.registry.register_on_missing(spec)
        return spec.ref
