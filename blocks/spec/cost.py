"""The cost summary of a valid spec (exact parameter count, FLOPs per token, activation memory and
inference state at max_seq_len) and the limits checked on it: pure arithmetic from the registry's cost
models, so oversized models are refused before anything is built.

``CostChecks`` is a mixin of ``blocks.spec.validate.Validator``; it walks the scopes the graph checks found.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from blocks.library.hierarchy.chunk import GLOBAL_SLOT, LOCAL_SLOT
from blocks.library.structural.norm import NORM_FLOPS_PER_FEATURE, norm_param_count
from blocks.registry import BYTES_PER_FLOAT, Cost
from blocks.spec.errors import COST_FAILED, TOO_MANY_LAYERS, TOO_MANY_PARAMS, TOO_MUCH_MEMORY


@dataclass
class CostSummary:
    params: int
    flops_per_token: float
    activation_bytes: float
    complexity: str
    per_node: list[dict]
    state_bytes: float = 0.0  # inference state (KV caches, recurrent states) at max_seq_len, float32

    def to_json(self) -> dict:
        return {
            "params": self.params,
            "flops_per_token": self.flops_per_token,
            "activation_bytes": self.activation_bytes,
            "state_bytes": self.state_bytes,
            "complexity": self.complexity,
            "per_node": self.per_node,
        }


# ---- complexity classes ----------------------------------------------------------------------

_COMPLEXITY_NAMES = {0: "O(1)", 1: "O(L)", 2: "O(L log L)", 3: "O(L^1.5)", 4: "O(L^2)"}


def complexity_rank(text: str) -> int:
    """Order complexity strings written by block authors: O(1) < O(L) < O(L log L) < O(L^1.5) < O(L^2)."""
    t = str(text).replace(" ", "").lower()
    if "^2" in t or "²" in t or "l*l" in t or "l·l" in t or "n^2" in t:
        return 4
    if "sqrt" in t or "√" in t or "^1.5" in t or "^(3/2)" in t:
        return 3
    if "log" in t:
        return 2
    if t in ("o(1)",):
        return 0
    return 1


class CostChecks:
    # -- cost and limits --------------------------------------------------------------------------

    def _cost_and_limits(self) -> CostSummary | None:
        model = self.model
        max_len = model["max_seq_len"]
        self.rows: list[dict] = []
        self.layers = 0
        self.worst = 1  # the embedding and head are already linear in L
        self.cost_broken = False
        total = self._scope_cost((None, None), max_len, 1, 1, bounded=False)
        if self.cost_broken:
            return None
        summary = CostSummary(int(total.params), float(total.flops_per_token), float(total.activation_bytes),
                              _COMPLEXITY_NAMES[self.worst], self.rows, float(total.state_bytes))
        err = self.out.add
        if self.layers > self.limits.max_layers:
            err(None, "nodes", f"{self.layers} layers after expanding repeats exceed the limit of "
                f"{self.limits.max_layers}", TOO_MANY_LAYERS)
        if summary.params > self.limits.max_params:
            err(None, "model", f"{summary.params:,} parameters exceed the limit of {self.limits.max_params:,}",
                TOO_MANY_PARAMS)
        if summary.activation_bytes > self.limits.max_activation_bytes:
            err(None, "model.max_seq_len", f"activations at max_seq_len {max_len} need "
                f"{summary.activation_bytes / 2**30:.2f} GiB (batch 1, float32), over the limit of "
                f"{self.limits.max_activation_bytes / 2**30:.2f} GiB", TOO_MUCH_MEMORY)
        return summary

    def _scope_cost(self, key, length: int, count: int, times: int, *, bounded: bool) -> Cost:
        """Total cost per model token of one scope whose sequences have ``length`` tokens,
        ``count`` of them per model sequence, repeated ``times``. ``bounded`` inside a chunk's
        local slot, where the length is fixed whatever the model's length."""
        model = self.model
        d_model, model_len = model["d_model"], model["max_seq_len"]
        scope = self.scopes[key]
        total = Cost(0, 0.0, 0.0)
        # Per-model-token scaling: this scope processes length*count positions per model sequence.
        token_ratio = length * count / model_len
        for node_id in scope.order:
            node = self.nodes[node_id]
            params = node.build_params(len(scope.inputs[node_id]))
            try:
                own = node.entry.cost(d_model, model_len if node.type == "input" else length, params)
                # A decoder holds each node's state once, whatever `count` sequences the parallel form runs.
                own = Cost(int(own.params), float(own.flops_per_token), float(own.activation_bytes),
                           float(node.entry.state(d_model, length, params)))
            except Exception as exc:
                self.out.add(node.id, "params", f"cost model failed: {type(exc).__name__}: {exc}", COST_FAILED)
                self.cost_broken = True
                continue
            params_count = own.params
            flops = own.flops_per_token * token_ratio
            activations = own.activation_bytes * count
            if node.type == "input":
                params_count += self.vocab_size * d_model
                activations = float(model_len * d_model * BYTES_PER_FLOAT)
            elif node.type == "output":
                params_count += norm_param_count(model["norm"], d_model)
                if not model["tie_embeddings"]:
                    params_count += self.vocab_size * d_model
                flops += 2.0 * d_model * self.vocab_size + NORM_FLOPS_PER_FEATURE * d_model
                activations += float(model_len * (d_model + self.vocab_size) * BYTES_PER_FLOAT)
            elif not node.entry.structural:
                self.layers += times
                if node.entry.residual:  # pre-norm + residual add
                    params_count += norm_param_count(model["norm"], d_model)
                    flops += (NORM_FLOPS_PER_FEATURE + 1) * d_model * token_ratio
                    activations += float(length * d_model * BYTES_PER_FLOAT * count)
                rank = 1 if bounded else complexity_rank(node.entry.complexity)
                self.worst = max(self.worst, rank)
            row_index = len(self.rows)
            self.rows.append({
                "id": node.id, "type": node.type, "family": node.entry.family,
                "params": params_count * times, "flops_per_token": flops * times,
                "activation_bytes": activations * times, "state_bytes": own.state_bytes * times,
                "complexity": node.entry.complexity, "times": times, "seq_len": length,
            })
            node_total = Cost(params_count, flops, activations, own.state_bytes).scaled(times)
            if node.type == "repeat":
                inner = self._scope_cost((node.id, None), length, count, times * node.params["times"],
                                         bounded=bounded)
                node_total = node_total + inner
            elif node.type == "chunk":
                size = node.params["chunk_size"]
                chunks = math.ceil(length / size)
                node_total = node_total + self._scope_cost((node.id, LOCAL_SLOT), size, count * chunks, times,
                                                           bounded=True)
                if (node.id, GLOBAL_SLOT) in self.scopes:
                    node_total = node_total + self._scope_cost((node.id, GLOBAL_SLOT), chunks, count, times,
                                                               bounded=bounded)
            self.rows[row_index]["subtree_params"] = node_total.params
            self.rows[row_index]["subtree_state_bytes"] = node_total.state_bytes
            total = total + node_total
        return total
