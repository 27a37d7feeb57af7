"""What a spec looks like: its version, fields, model fields, group slots and the resource ceilings.

Plain data read by the validator (parsing and graph checks), the JSON Schema and the API's limits.
"""
from __future__ import annotations

from dataclasses import dataclass

from blocks.library.hierarchy.chunk import GLOBAL_SLOT, LOCAL_SLOT
from blocks.library.structural.norm import NORM_KINDS
from blocks.registry import Param

SPEC_VERSION = 1

TOP_LEVEL_KEYS = ("version", "model", "nodes", "edges")
OPTIONAL_TOP_LEVEL_KEYS = ("layout", "name", "description")
NODE_KEYS = ("id", "type", "params", "parent", "slot", "label")
MAX_ID_LENGTH = 100

# Group types and their slots: None is the single unnamed slot of `repeat`.
GROUP_SLOTS: dict[str, tuple[str | None, ...]] = {"repeat": (None,), "chunk": (LOCAL_SLOT, GLOBAL_SLOT)}
REQUIRED_SLOTS: dict[str, tuple[str | None, ...]] = {"repeat": (None,), "chunk": (LOCAL_SLOT,)}

MODEL_FIELDS = (
    Param("d_model", "int", 128, "Width of the residual stream.", min=8, max=4096),
    Param("max_seq_len", "int", 512, "Longest sequence the model accepts.", min=8, max=65536),
    Param("norm", "choice", "rmsnorm", "Normalisation used for pre-norms and the final norm.", choices=NORM_KINDS),
    Param("tie_embeddings", "bool", True, "Share the token embedding with the LM head."),
    Param("allow_noncausal", "bool", False, "Keep blocks that see the future in a draft; they train only on tasks "
          "that read whole sequences (compression), never on next-token tasks."),
)
REQUIRED_MODEL_FIELDS = ("d_model", "max_seq_len")


@dataclass(frozen=True)
class Limits:
    """Resource ceilings checked by arithmetic before anything is built."""

    max_nodes: int = 256
    max_layers: int = 256  # non-structural blocks after expanding repeats
    max_params: int = 1_000_000_000
    max_activation_bytes: float = 16 * 2**30  # batch 1, float32, at max_seq_len
    max_d_model: int = 4096
    max_seq_len: int = 65536
    max_depth: int = 4  # group nesting


DEFAULT_LIMITS = Limits()
