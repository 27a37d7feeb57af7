"""What validation reports: the stable error codes, ``SpecError``, the collector that caps them, and
``SpecInvalid`` (raised by the compiler for a spec that does not validate)."""
from __future__ import annotations

from dataclasses import dataclass

# ---- error codes (stable: the API, the editor and tests match on them) --------------------
NOT_AN_OBJECT = "not_an_object"
MISSING_FIELD = "missing_field"
UNKNOWN_FIELD = "unknown_field"
WRONG_TYPE = "wrong_type"
BAD_VERSION = "bad_version"
BAD_MODEL_FIELD = "bad_model_field"
BAD_VOCAB_SIZE = "bad_vocab_size"
MISSING_ID = "missing_id"
DUPLICATE_ID = "duplicate_id"
UNKNOWN_TYPE = "unknown_type"
UNKNOWN_PARAM = "unknown_param"
BAD_PARAM = "bad_param"
BLOCK_CHECK = "block_check"
BAD_EDGE = "bad_edge"
UNKNOWN_NODE = "unknown_node"
DUPLICATE_EDGE = "duplicate_edge"
CROSS_GROUP_EDGE = "cross_group_edge"
CYCLE = "cycle"
DANGLING = "dangling"
MULTIPLE_INCOMING = "multiple_incoming"
MERGE_TOO_FEW_INPUTS = "merge_too_few_inputs"
MISSING_INPUT = "missing_input"
MULTIPLE_INPUTS = "multiple_inputs"
MISSING_OUTPUT = "missing_output"
MULTIPLE_OUTPUTS = "multiple_outputs"
INPUT_HAS_INCOMING = "input_has_incoming"
OUTPUT_HAS_OUTGOING = "output_has_outgoing"
MISPLACED_STRUCTURAL = "misplaced_structural"
BAD_PARENT = "bad_parent"
BAD_SLOT = "bad_slot"
EMPTY_GROUP = "empty_group"
GROUP_SOURCES = "group_sources"
GROUP_SINKS = "group_sinks"
TOO_DEEP = "too_deep"
NONCAUSAL = "noncausal"
TOO_MANY_NODES = "too_many_nodes"
TOO_MANY_LAYERS = "too_many_layers"
TOO_MANY_PARAMS = "too_many_params"
TOO_MUCH_MEMORY = "too_much_memory"
D_MODEL_LIMIT = "d_model_limit"
SEQ_LEN_LIMIT = "seq_len_limit"
COST_FAILED = "cost_failed"
INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True)
class SpecError:
    node_id: str | None
    field: str
    message: str
    code: str

    def to_json(self) -> dict:
        return {"node_id": self.node_id, "field": self.field, "message": self.message, "code": self.code}


class SpecInvalid(ValueError):
    """Raised by the compiler for a spec that does not validate; carries every error."""

    def __init__(self, errors: list[SpecError]):
        self.errors = list(errors)
        head = "; ".join(f"{e.node_id or '-'} {e.field}: {e.message}" for e in self.errors[:5])
        more = f" (+{len(self.errors) - 5} more)" if len(self.errors) > 5 else ""
        super().__init__(f"invalid spec: {head}{more}")


class ErrorCollector:
    def __init__(self):
        self.errors: list[SpecError] = []
        self.limit: int | None = None  # most errors kept; the rest only counted in ``dropped``
        self.dropped = 0

    def add(self, node_id: str | None, field_name: str, message: str, code: str) -> None:
        if self.limit is not None and len(self.errors) >= self.limit:
            self.dropped += 1
            return
        self.errors.append(SpecError(node_id, field_name, message, code))
