"""The block registry: one entry per block type, the single source of truth.

The API, the editor's palette and forms, spec validation, the compiler and the
docs all read these entries; nothing about a block is written anywhere else.
Block modules register themselves on import (see ``blocks/library/__init__.py``). Everything here and
in the entries is plain Python: the web process lists, checks and costs blocks without importing torch;
an entry names its torch module by dotted path (``BlockType.module``), imported only by ``build``.
"""
from __future__ import annotations

import importlib
import inspect
import math
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

FAMILIES = (
    "attention",
    "ssm",
    "recurrent",
    "convolution",
    "moe",
    "memory",
    "hierarchy",
    "mlp",
    "structural",
)

PARAM_TYPES = ("int", "float", "bool", "choice")


class RegistryError(Exception):
    """A programming error in a registry entry (duplicate name, bad schema)."""


class UnknownBlockType(KeyError):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown block type {self.name!r}"


# context_default(d_model, max_seq_len, params so far) -> the value a spec that leaves the param out gets
ContextDefault = Callable[[int, int, dict], Any]


@dataclass(frozen=True)
class Param:
    """A typed hyper-parameter of a block (or of a training task).

    ``default`` is what a block built without a model gets (and valid at any length).
    ``context_default``, when set, replaces it wherever the model is known: a spec that leaves the
    param out gets ``context_default(d_model, max_seq_len, params)`` (max_seq_len: the block's own
    context, a chunk's size inside one), and the validator writes that value into the normalised
    spec. ``paper_value`` is the paper's setting (a number or a short text), for display.
    """

    name: str
    type: str
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple | None = None
    context_default: ContextDefault | None = None
    paper_value: Any = None

    def __post_init__(self):
        if self.type not in PARAM_TYPES:
            raise RegistryError(f"param {self.name}: type must be one of {PARAM_TYPES}")
        if self.type == "choice" and not self.choices:
            raise RegistryError(f"param {self.name}: a choice needs choices")
        problem = self.check(self.default)
        if problem:
            raise RegistryError(f"param {self.name}: default {self.default!r} {problem}")

    def check(self, value: Any) -> str | None:
        """Return why ``value`` is not acceptable, or None when it is."""
        if self.type == "bool":
            return None if isinstance(value, bool) else "must be true or false"
        if self.type == "choice":
            return None if value in self.choices else f"must be one of {list(self.choices)}"
        if isinstance(value, bool):
            return f"must be a{'n integer' if self.type == 'int' else ' number'}, not a boolean"
        if self.type == "int":
            if not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    return "must be an integer"
        elif not isinstance(value, (int, float)) or not math.isfinite(value):
            return "must be a finite number"
        if self.min is not None and value < self.min:
            return f"must be >= {self.min:g}"
        if self.max is not None and value > self.max:
            return f"must be <= {self.max:g}"
        return None

    def coerce(self, value: Any) -> Any:
        """A checked value in its canonical Python type (ints stay ints)."""
        if self.type == "int":
            return int(value)
        if self.type == "float":
            return float(value)
        return value

    def json_schema(self) -> dict:
        schema: dict[str, Any] = {"default": self.default, "description": self.help}
        if self.type == "int":
            schema["type"] = "integer"
        elif self.type == "float":
            schema["type"] = "number"
        elif self.type == "bool":
            schema["type"] = "boolean"
        else:
            schema["enum"] = list(self.choices)
        if self.min is not None:
            schema["minimum"] = self.min
        if self.max is not None:
            schema["maximum"] = self.max
        return schema

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "type": self.type,
            "default": self.default,
            "min": self.min,
            "max": self.max,
            "choices": list(self.choices) if self.choices else None,
            "help": self.help,
            "paper_value": self.paper_value,
            "scales_with_model": self.context_default is not None,
        }


# Every cost model counts float32 activations and state.
BYTES_PER_FLOAT = 4


@dataclass(frozen=True)
class Cost:
    """What one block costs at batch size 1.

    params: trainable parameters, exactly what the built module holds.
    flops_per_token: forward multiply-adds x2 per token at this length.
    activation_bytes: float32 activations kept for backward for one sequence.
    state_bytes: float32 inference state at this length. Block cost functions leave it 0:
        the validator fills it from the entry's ``state`` (one formula per block, not two).
    """

    params: int
    flops_per_token: float
    activation_bytes: float
    state_bytes: float = 0.0

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(
            self.params + other.params,
            self.flops_per_token + other.flops_per_token,
            self.activation_bytes + other.activation_bytes,
            self.state_bytes + other.state_bytes,
        )

    def scaled(self, times: int) -> "Cost":
        return Cost(self.params * times, self.flops_per_token * times, self.activation_bytes * times,
                    self.state_bytes * times)


ZERO_COST = Cost(0, 0.0, 0.0)

# state(d_model, seq_len, params) -> bytes: what the block carries at inference after
# decoding seq_len tokens (float32; the largest it holds between two tokens on the way).
State = Callable[[int, int, dict], float]


def no_state(d_model: int, seq_len: int, params: dict) -> float:
    """The default ``state``: position-wise and structural blocks carry nothing between tokens."""
    return 0.0

# A check returns (field, message) pairs for problems that depend on the model
# (d_model, max_seq_len) and on several params together, e.g. heads | d_model.
Check = Callable[[int, int, dict], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class BlockType:
    """One entry of the registry.

    module: dotted path ("package.module.Name") of the torch class (or function) that ``build`` calls,
        imported only then, so the registry itself never imports torch; None for the structural
        nodes the compiler builds itself (input, output, repeat, chunk).
    build(d_model=, max_seq_len=, layer_idx=, seed=, **params) -> nn.Module
        mapping (batch, length, d_model) -> same shape. A build that names ``n_layers`` in its
        signature also gets the model's number of sequence layers after expanding repeats
        (``layer_idx`` runs over 0..n_layers-1), for depth-dependent init such as RWKV-4's. Modules with a
        recurrent form also have ``init_state(batch, device, dtype)`` and
        ``step(x_t, state) -> (y_t, state)`` with x_t of shape (batch, d_model).
        A module may set ``self.aux_loss`` (a scalar tensor) during forward
        (mixture-of-experts load balancing); the model sums them.
    cost(d_model, seq_len, params) -> Cost
    state(d_model, seq_len, params) -> float bytes of inference state after seq_len tokens
        (KV cache, recurrent state, or the history a decoder must keep); default 0.
    causal: True, False, or a function of params (e.g. a causal variant flag).
    """

    name: str
    family: str
    title: str
    description: str
    paper: str
    params: tuple[Param, ...]
    module: str | None
    cost: Callable[[int, int, dict], Cost]
    complexity: str
    causal: bool | Callable[[dict], bool] = True
    recurrent: bool = False
    residual: bool = True
    check: Check | None = None
    structural: bool = False
    # Whether the node takes several incoming edges (a merge); every other node takes exactly one.
    many_inputs: bool = False
    tags: tuple[str, ...] = field(default_factory=tuple)
    state: State = no_state

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise RegistryError(f"{self.name}: family must be one of {FAMILIES}")
        names = [p.name for p in self.params]
        if len(names) != len(set(names)):
            raise RegistryError(f"{self.name}: duplicate parameter names")

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def resolve_params(self, given: dict | None, *, d_model: int | None = None,
                       max_seq_len: int | None = None) -> dict:
        """Defaults overlaid with ``given`` (assumed already checked). With the model's ``d_model``
        and the block's ``max_seq_len``, params left out that have a ``context_default`` take it
        (in param order, each seeing the params before it)."""
        given = given or {}
        out = self.defaults()
        for key, value in given.items():
            p = self.param(key)
            if p is not None:
                out[key] = p.coerce(value)
        if d_model is not None and max_seq_len is not None:
            for p in self.params:
                if p.context_default is not None and p.name not in given:
                    out[p.name] = p.coerce(p.context_default(d_model, max_seq_len, out))
        return out

    def scales_with_model(self) -> bool:
        """Whether some param's default depends on the model (see ``Param.context_default``)."""
        return any(p.context_default is not None for p in self.params)

    def module_class(self) -> Callable[..., Any]:
        """The torch class (or function) ``module`` names, imported now (this imports torch)."""
        if self.module is None:
            raise RegistryError(f"{self.name}: the compiler builds this node itself; it has no module")
        module_name, _, attribute = self.module.rpartition(".")
        return getattr(importlib.import_module(module_name), attribute)

    def build(self, **kwargs) -> Any:
        """The block's torch module: ``module_class()(**kwargs)`` (see the class docstring for the arguments)."""
        return self.module_class()(**kwargs)

    def takes_n_layers(self) -> bool:
        """Whether the module takes ``n_layers`` (see the class docstring); the compiler passes it only then."""
        return self.module is not None and "n_layers" in inspect.signature(self.module_class()).parameters

    def is_causal(self, params: dict) -> bool:
        return self.causal(params) if callable(self.causal) else bool(self.causal)

    def params_json_schema(self) -> dict:
        return {
            "type": "object",
            "additionalProperties": False,
            "properties": {p.name: p.json_schema() for p in self.params},
        }

    def to_json(self) -> dict:
        """The public description served by ``GET /api/blocks/``."""
        causal = self.causal if isinstance(self.causal, bool) else "depends on params"
        return {
            "name": self.name,
            "family": self.family,
            "title": self.title,
            "description": self.description,
            "paper": self.paper,
            "params": [p.to_json() for p in self.params],
            "params_schema": self.params_json_schema(),
            "complexity": self.complexity,
            "causal": causal,
            "recurrent": self.recurrent,
            "residual": self.residual,
            "structural": self.structural,
            "many_inputs": self.many_inputs,
            "tags": list(self.tags),
        }


_REGISTRY: dict[str, BlockType] = {}
_LOADED = False
# Web servers answer requests on several threads: the first ones may arrive together.
_LOAD_LOCK = threading.Lock()


def register(block: BlockType) -> BlockType:
    if block.name in _REGISTRY:
        raise RegistryError(f"block type {block.name!r} is registered twice")
    _REGISTRY[block.name] = block
    return block


def _ensure_loaded() -> None:
    global _LOADED
    if _LOADED:
        return
    with _LOAD_LOCK:
        if not _LOADED:
            from blocks.library import load_entries

            load_entries()

            _LOADED = True  # only after a complete import, so no caller ever sees half a registry


def get_block(name: str) -> BlockType:
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownBlockType(name) from None


def all_blocks() -> list[BlockType]:
    _ensure_loaded()
    return sorted(_REGISTRY.values(), key=lambda b: (FAMILIES.index(b.family), b.name))


def registry_json() -> list[dict]:
    return [b.to_json() for b in all_blocks()]
