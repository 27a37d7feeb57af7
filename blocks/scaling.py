"""Matched size: resize a spec so its parameter count (or inference state) meets a budget.

``scale_to(spec, params=100_000)`` returns a copy of the spec whose total parameter count,
by the validator's exact cost model (no tensors are built), is within 3% of the budget;
``scale_to(spec, state=2**20)`` does the same for the inference state at max_seq_len
(``CostSummary.state_bytes``). Architectures compared at one budget differ in design, not size.

The knob is the width: d_model, searched over the widths every block's ``check`` accepts
(heads keep dividing d_model, rotary keeps an even head size, ...), everything else kept as
given. Widths are discrete; when the nearest one is more than 3% off, a fractional knob,
the ``expansion`` of the spec's mlp / moe nodes (all scaled by one factor, within their
ranges), closes the gap for a parameter budget. No knob changes the state (an MLP carries
none), so a state budget between two widths is refused with both widths named.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass

from blocks.registry import UnknownBlockType, get_block
from blocks.spec import (
    D_MODEL_LIMIT,
    DEFAULT_LIMITS,
    MODEL_FIELDS,
    TOO_MANY_PARAMS,
    TOO_MUCH_MEMORY,
    Limits,
    SpecInvalid,
    validate_spec,
)

TOLERANCE = 0.03
FRACTIONAL_KNOBS = ("expansion",)  # float params that widen a block's hidden layer (mlp, moe)
_OVER_LIMITS = frozenset({TOO_MANY_PARAMS, TOO_MUCH_MEMORY, D_MODEL_LIMIT})
_UNITS = {"params": "parameters", "state": "bytes of inference state"}
_FACTOR_STEPS = 48  # bisection steps on the knob factor: far finer than a hidden layer's rounding
_DECIMALS = 4  # a scaled expansion is stored rounded, as a person would write it


class ScaleError(ValueError):
    """No width (and knob setting) meets the budget; ``field`` is "params" or "state"."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class _Point:
    d_model: int
    factor: float
    value: float  # parameters or state bytes
    spec: dict


_OVER = "over"  # a width whose model breaks a resource limit: it and every wider one are out


@dataclass(frozen=True)
class _Knob:
    node_id: str
    name: str
    value: float
    low: float  # the param's own range
    high: float


def scale_to(spec: dict, *, params: float | None = None, state: float | None = None, vocab_size: int = 256,
             limits: Limits = DEFAULT_LIMITS) -> dict:
    """A new spec whose parameter count (``params=``) or state bytes at max_seq_len (``state=``)
    is within 3% of the budget. Raises ScaleError(field, message) naming the reachable range when
    no width gets there, SpecInvalid when ``spec`` itself does not validate (causality aside: a
    non-causal block is sized like any other). Never mutates ``spec``."""
    if (params is None) == (state is None):
        raise TypeError("scale_to needs exactly one budget: params= or state=")
    field, target = ("params", params) if params is not None else ("state", state)
    if isinstance(target, bool) or not isinstance(target, (int, float)) or not math.isfinite(target) or target <= 0:
        raise ScaleError(field, f"the budget must be a positive number, got {target!r}")
    result = validate_spec(_size_only(spec), vocab_size=vocab_size, limits=limits)
    if not result.ok:
        raise SpecInvalid(result.errors)
    return _Search(spec, field, float(target), vocab_size, limits).run()


def _size_only(spec: dict) -> dict:
    """The spec as validated for its size: whether it may see the future is for whoever trains it
    (a compression task accepts a non-causal block), not for the size search."""
    if not isinstance(spec, dict) or not isinstance(spec.get("model"), dict):
        return spec
    return {**spec, "model": {**spec["model"], "allow_noncausal": True}}


class _Search:
    def __init__(self, spec: dict, field: str, target: float, vocab_size: int, limits: Limits):
        self.spec, self.field, self.target = spec, field, target
        self.vocab_size, self.limits = vocab_size, limits
        d_param = next(p for p in MODEL_FIELDS if p.name == "d_model")
        self.low, self.high = int(d_param.min), int(min(d_param.max, limits.max_d_model))
        # An MLP's width changes parameters, never state: for a state budget there is no fractional knob.
        self.knobs = _knobs(spec) if field == "params" else []
        self.cache: dict[tuple[int, float], _Point | str | None] = {}

    # -- measuring one candidate ------------------------------------------------------------------

    def measure(self, d_model: int, factor: float = 1.0, knobs: list[_Knob] | None = None) -> _Point | str | None:
        """The spec at this width (and factor on ``knobs``, all of them by default): a point, _OVER
        (past a limit) or None (a check refuses it)."""
        knobs = self.knobs if knobs is None else knobs
        key = (d_model, factor, tuple((k.node_id, k.name) for k in knobs))
        if key not in self.cache:
            candidate = _resized(self.spec, d_model, knobs, factor)
            result = validate_spec(_size_only(candidate), vocab_size=self.vocab_size, limits=self.limits)
            if result.ok:
                value = result.cost.params if self.field == "params" else result.cost.state_bytes
                self.cache[key] = _Point(d_model, factor, float(value), candidate)
            elif all(e.code in _OVER_LIMITS for e in result.errors):
                self.cache[key] = _OVER
            else:
                self.cache[key] = None
        return self.cache[key]

    def valid_at_or_above(self, d_model: int) -> _Point | str:
        for d in range(d_model, self.high + 1):
            found = self.measure(d)
            if found is not None:
                return found
        return _OVER

    def valid_at_or_below(self, d_model: int) -> _Point | None:
        for d in range(min(d_model, self.high), self.low - 1, -1):
            found = self.measure(d)
            if isinstance(found, _Point):
                return found
        return None

    def first_width_reaching(self, target: float) -> int:
        """The smallest d_model whose next valid width has at least ``target`` (the value grows with width)."""
        a, b = self.low, self.high + 1
        while a < b:
            mid = (a + b) // 2
            found = self.valid_at_or_above(mid)
            if found == _OVER or found.value >= target:
                b = mid
            else:
                a = mid + 1
        return a

    # -- the search ---------------------------------------------------------------------------------

    def run(self) -> dict:
        d = self.first_width_reaching(self.target)
        above = self.valid_at_or_above(d) if d <= self.high else _OVER
        below = self.valid_at_or_below(d - 1)
        neighbours = [p for p in (below, above) if isinstance(p, _Point)]
        if not neighbours:
            raise ScaleError(self.field, "no width between d_model "
                             f"{self.low} and {self.high} gives a valid model of this spec")
        best = min(neighbours, key=self.miss)
        if self.miss(best) <= TOLERANCE:
            return best.spec
        # All knobs together first; where their steps are too coarse together (a mixture of experts
        # adds a hidden unit per expert per layer at a time), each one alone.
        for knobs in [self.knobs] + ([[knob] for knob in self.knobs] if len(self.knobs) > 1 else []):
            tuned = [p for p in (self.tune(point, knobs) for point in neighbours) if p is not None]
            if tuned:
                break
        if tuned:
            return min(tuned, key=lambda p: (abs(math.log(p.factor)), self.miss(p))).spec
        raise ScaleError(self.field, self.explain(below, above))

    def miss(self, point: _Point) -> float:
        return abs(point.value / self.target - 1.0)

    def tune(self, point: _Point, knobs: list[_Knob]) -> _Point | None:
        """At this width, the knob factor nearest the target (bisection: the value grows with the factor)."""
        if not knobs:
            return None
        lo = max(k.low / k.value for k in knobs)
        hi = min(k.high / k.value for k in knobs)
        if lo > hi:
            return None
        growing = point.value < self.target
        a, b = (1.0, hi) if growing else (lo, 1.0)
        best = point
        for _ in range(_FACTOR_STEPS):
            mid = math.sqrt(a * b)  # geometric: the factor's range spans orders of magnitude
            found = self.measure(point.d_model, mid, knobs)
            if not isinstance(found, _Point):  # over a limit: smaller factors only
                b = mid
                continue
            if self.miss(found) < self.miss(best):
                best = found
            if found.value < self.target:
                a = mid
            else:
                b = mid
        return best if best is not point and self.miss(best) <= TOLERANCE else None

    def explain(self, below: _Point | None, above: _Point | str) -> str:
        unit = _UNITS[self.field]
        smallest = self.valid_at_or_above(self.low)
        largest = below if above == _OVER else self.valid_at_or_below(self.first_width_reaching(math.inf) - 1)
        goal = f"a budget of {self.target:,.0f} {unit}"
        if self.field == "state" and largest.value == 0:
            return f"{goal} cannot be met: this spec carries no inference state at any width (position-wise blocks only)"
        reach = (f"reachable by width: {smallest.value:,.0f} (d_model {smallest.d_model}) .. "
                 f"{largest.value:,.0f} (d_model {largest.d_model}) {unit}{self.knob_range(smallest, largest)}")
        if below is None:
            return f"{goal} is below the smallest model of this spec; {reach}"
        if above == _OVER:
            return f"{goal} is above the largest model of this spec within the limits; {reach}"
        return (f"no width gets within {TOLERANCE:.0%} of {goal}: d_model {below.d_model} gives "
                f"{below.value:,.0f} ({below.value / self.target - 1:+.1%}), d_model {above.d_model} gives "
                f"{above.value:,.0f} ({above.value / self.target - 1:+.1%}); {self.knob_note()}; {reach}")

    def knob_range(self, smallest: _Point, largest: _Point) -> str:
        """What the fractional knobs add to the range, at their extremes (within the limits)."""
        if not self.knobs:
            return ""
        low = self.measure(smallest.d_model, max(k.low / k.value for k in self.knobs))
        high = self.measure(largest.d_model, min(k.high / k.value for k in self.knobs))
        low_text = f"{low.value:,.0f}" if isinstance(low, _Point) else f"{smallest.value:,.0f}"
        high_text = f"{high.value:,.0f}" if isinstance(high, _Point) else "the limits"
        names = ", ".join(f"{k.node_id}.{k.name}" for k in self.knobs)
        return f"; with {names} scaled within range: {low_text} .. {high_text}"

    def knob_note(self) -> str:
        if self.field == "state":
            return "no fractional knob changes the state (an MLP's expansion carries none)"
        if not self.knobs:
            return "the spec has no fractional knob (an mlp or moe expansion) to close the gap"
        names = ", ".join(f"{k.node_id}.{k.name}" for k in self.knobs)
        return f"scaling {names} within range does not close the gap either"


def _knobs(spec: dict) -> list[_Knob]:
    knobs = []
    for node in spec["nodes"]:
        try:
            entry = get_block(node["type"])
        except UnknownBlockType:  # pragma: no cover - the spec validated
            continue
        values = entry.resolve_params(node.get("params") or {})
        for param in entry.params:
            if param.type == "float" and param.name in FRACTIONAL_KNOBS and values[param.name] > 0:
                knobs.append(_Knob(node["id"], param.name, float(values[param.name]), float(param.min), float(param.max)))
    return knobs


def _resized(spec: dict, d_model: int, knobs: list[_Knob], factor: float) -> dict:
    out = copy.deepcopy(spec)
    out["model"]["d_model"] = d_model
    if factor != 1.0:
        nodes = {node["id"]: node for node in out["nodes"]}
        for knob in knobs:
            node = nodes[knob.node_id]
            node["params"] = dict(node.get("params") or {})
            node["params"][knob.name] = min(knob.high, max(knob.low, round(knob.value * factor, _DECIMALS)))
    return out

