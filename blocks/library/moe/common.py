"""Expert capacity, parameter count, cost model and checks shared by the two mixture-of-experts
entries (``moe``, ``switch_moe``); plain Python."""
from __future__ import annotations

import math

from blocks.library.mlp.mlp import ACTIVATIONS, mlp_flops_per_token, mlp_hidden_size
from blocks.registry import BYTES_PER_FLOAT, Cost, Param


def expert_capacity(seq_len: int, experts: int, top_k: int, capacity_factor: float) -> int:
    """Slots per expert per sequence: ceil(capacity_factor * top_k * L / E), within [1, L]."""
    assert experts >= 1 and top_k >= 1 and seq_len >= 1, "experts, top_k and seq_len must be positive"
    return max(1, min(seq_len, math.ceil(capacity_factor * top_k * seq_len / experts)))


def moe_params(top_k_param: bool) -> tuple[Param, ...]:
    params = [Param("experts", "int", 8, "Number of expert FFNs.", min=2, max=128)]
    if top_k_param:
        params.append(Param("top_k", "int", 2, "Experts each token is sent to (must be <= experts).", min=1, max=8))
    params += [
        Param("expansion", "float", 4.0, "Each expert's hidden width / d_model (swiglu: 2/3 of it, "
              "rounded up to a multiple of 8, as in the mlp block).", min=0.25, max=16.0),
        Param("capacity_factor", "float", 1.25, "Expert slots per sequence = ceil(capacity_factor * "
              "top_k * L / experts); assignments beyond it are dropped (output 0).", min=0.25, max=16.0),
        Param("aux_loss_weight", "float", 0.01, "Weight of the Switch load-balancing loss.", min=0.0, max=1.0),
        Param("router_z_loss_weight", "float", 0.0, "Weight of the ST-MoE router z-loss (0 = off).",
              min=0.0, max=1.0),
        Param("activation", "choice", "swiglu", "Expert FFN activation.", choices=ACTIVATIONS),
    ]
    return tuple(params)


def moe_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    E, k = params["experts"], params.get("top_k", 1)
    activation = params["activation"]
    hidden = mlp_hidden_size(d_model, params["expansion"], activation)
    capacity = expert_capacity(seq_len, E, k, params["capacity_factor"])
    matrices = 3 if activation == "swiglu" else 2
    slots_per_token = E * capacity / seq_len  # every slot is computed, filled or not
    router_flops = 2 * d_model * E + 5 * E  # projection + softmax
    combine_flops = 2 * k * d_model  # gate multiply + add per chosen expert
    # Kept for backward per sequence: input, logits and probs, the dispatch buffer, the
    # experts' hidden tensors (3 for swiglu, 2 for gelu) and outputs, the combined output.
    hidden_floats = (3 if activation == "swiglu" else 2) * hidden
    activation_floats = 2 * seq_len * d_model + 2 * seq_len * E + E * capacity * (2 * d_model + hidden_floats)
    return Cost(
        params=d_model * E + E * matrices * d_model * hidden,
        flops_per_token=router_flops + slots_per_token * mlp_flops_per_token(d_model, hidden, activation)
        + combine_flops,
        activation_bytes=float(activation_floats * BYTES_PER_FLOAT),
    )


def moe_check(d_model: int, max_seq_len: int, params: dict):
    if params.get("top_k", 1) > params["experts"]:
        yield "top_k", f"top_k ({params['top_k']}) must be <= experts ({params['experts']})"
