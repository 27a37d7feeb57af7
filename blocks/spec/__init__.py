"""Spec validation with shape inference, resource limits and the cost summary; the spec's JSON Schema.

``validate_spec(spec)`` checks a model spec (see docs/ARCHITECTURE.md, "Spec") and returns
every problem at once as ``SpecError(node_id, field, message, code)``; it never raises on
any JSON input and never allocates a tensor: the cost summary (exact parameter count,
FLOPs per token, activation memory at max_seq_len) is pure arithmetic from the registry's
cost models, so oversized models are refused before anything is built.
``spec_json_schema()`` derives the spec's JSON Schema from the registry
(``python -m blocks.spec`` rewrites docs/spec.schema.json).

The package is split by concern: ``format`` (what a spec looks like, the limits), ``errors`` (codes and
``SpecError``), ``parsed`` (the form the compiler reads), ``nodes`` and ``graph`` (the checks), ``cost``
(the summary and the limits on it), ``validate`` (the order they run in) and ``schema``. This module
names the public API; import from it.
"""
from blocks.spec.cost import (  # noqa: F401
    CostSummary,
    complexity_rank,
)
from blocks.spec.errors import (  # noqa: F401
    BAD_EDGE,
    BAD_MODEL_FIELD,
    BAD_PARAM,
    BAD_PARENT,
    BAD_SLOT,
    BAD_VERSION,
    BAD_VOCAB_SIZE,
    BLOCK_CHECK,
    COST_FAILED,
    CROSS_GROUP_EDGE,
    CYCLE,
    DANGLING,
    DUPLICATE_EDGE,
    DUPLICATE_ID,
    D_MODEL_LIMIT,
    EMPTY_GROUP,
    GROUP_SINKS,
    GROUP_SOURCES,
    INPUT_HAS_INCOMING,
    INTERNAL_ERROR,
    MERGE_TOO_FEW_INPUTS,
    MISPLACED_STRUCTURAL,
    MISSING_FIELD,
    MISSING_ID,
    MISSING_INPUT,
    MISSING_OUTPUT,
    MULTIPLE_INCOMING,
    MULTIPLE_INPUTS,
    MULTIPLE_OUTPUTS,
    NONCAUSAL,
    NOT_AN_OBJECT,
    OUTPUT_HAS_OUTGOING,
    SEQ_LEN_LIMIT,
    TOO_DEEP,
    TOO_MANY_LAYERS,
    TOO_MANY_NODES,
    TOO_MANY_PARAMS,
    TOO_MUCH_MEMORY,
    UNKNOWN_FIELD,
    UNKNOWN_NODE,
    UNKNOWN_PARAM,
    UNKNOWN_TYPE,
    WRONG_TYPE,
    SpecError,
    SpecInvalid,
)
from blocks.spec.format import (  # noqa: F401
    DEFAULT_LIMITS,
    GROUP_SLOTS,
    MAX_ID_LENGTH,
    MODEL_FIELDS,
    NODE_KEYS,
    OPTIONAL_TOP_LEVEL_KEYS,
    REQUIRED_MODEL_FIELDS,
    REQUIRED_SLOTS,
    SPEC_VERSION,
    TOP_LEVEL_KEYS,
    Limits,
)
from blocks.spec.parsed import (  # noqa: F401
    ParsedSpec,
    Scope,
    SpecNode,
)
from blocks.spec.schema import (  # noqa: F401
    SCHEMA_PATH,
    spec_json_schema,
    spec_json_schema_text,
    write_spec_schema,
)
from blocks.spec.validate import (  # noqa: F401
    ValidationResult,
    parse_spec,
    validate_spec,
)
