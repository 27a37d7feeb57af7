"""The router, the experts and the mixture-of-experts module that both MoE entries build."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.mlp.mlp import ACTIVATIONS, mlp_hidden_size
from blocks.library.moe.common import expert_capacity


def causal_slot_positions(expert_index: torch.Tensor, experts: int) -> torch.Tensor:
    """Slot each assignment takes in its expert, claiming slots in order along dim 1.

    expert_index (B, A) int64, assignments in priority order (position-major, then
    choice rank). Returns (B, A) int64: how many earlier assignments of the same
    sequence picked the same expert. Depends only on assignments <= a.
    """
    one_hot = F.one_hot(expert_index, experts)  # (B, A, E)
    claimed_before = torch.cumsum(one_hot, dim=1) - one_hot  # (B, A, E): earlier picks of e
    return (claimed_before * one_hot).sum(dim=-1)  # (B, A)


class Router(nn.Module):
    """Linear scores of each token for each expert: x (B, L, D) -> logits (B, L, E)."""

    def __init__(self, d_model: int, experts: int):
        super().__init__()
        assert experts >= 2, f"a mixture needs at least 2 experts, got {experts}"
        self.proj = nn.Linear(d_model, experts, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Routing decisions are brittle in low precision (Switch §2.4): score in float32.
        return self.proj(x).float()


class ExpertFFNs(nn.Module):
    """E independent FeedForwards held as stacked weights and run with one bmm each.

    x (E, S, D) -> (E, S, D): expert e processes row block e (its S capacity slots).
    """

    def __init__(self, experts: int, d_model: int, hidden: int, activation: str):
        super().__init__()
        assert activation in ACTIVATIONS, f"activation must be one of {ACTIVATIONS}, got {activation!r}"
        self.activation = activation
        self.w_up = nn.Parameter(torch.empty(experts, d_model, hidden))
        self.w_gate = nn.Parameter(torch.empty(experts, d_model, hidden)) if activation == "swiglu" else None
        self.w_down = nn.Parameter(torch.empty(experts, hidden, d_model))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # The same scale nn.Linear uses, per expert: U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
        for weight in (self.w_up, self.w_gate, self.w_down):
            if weight is not None:
                bound = 1.0 / math.sqrt(weight.shape[1])
                nn.init.uniform_(weight, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.w_gate is not None:
            h = F.silu(torch.bmm(x, self.w_gate)) * torch.bmm(x, self.w_up)  # (E, S, H)
        else:
            h = F.gelu(torch.bmm(x, self.w_up), approximate="tanh")  # (E, S, H)
        return torch.bmm(h, self.w_down)  # (E, S, D)


class MixtureOfExperts(nn.Module):
    """Token-choice top-k MoE with causal per-sequence capacity: (B, L, D) -> (B, L, D).

    Gates: with top_k = 1 the output is scaled by the router probability of the chosen
    expert (as in Switch, so the router gets a gradient); with top_k > 1 the k chosen
    probabilities are renormalised to sum to 1 (as in GShard/GLaM).
    """

    def __init__(
        self,
        d_model: int,
        *,
        max_seq_len: int,
        layer_idx: int = 0,
        seed: int = 0,
        experts: int = 8,
        top_k: int = 2,
        expansion: float = 4.0,
        capacity_factor: float = 1.25,
        aux_loss_weight: float = 0.01,
        router_z_loss_weight: float = 0.0,
        activation: str = "swiglu",
    ):
        super().__init__()
        assert 1 <= top_k <= experts, f"top_k must be in 1..experts={experts}, got {top_k}"
        assert capacity_factor > 0, f"capacity_factor must be positive, got {capacity_factor}"
        assert aux_loss_weight >= 0 and router_z_loss_weight >= 0, "loss weights must be >= 0"
        assert max_seq_len > 0, f"max_seq_len must be positive, got {max_seq_len}"
        self.d_model, self.experts, self.top_k = d_model, experts, top_k
        self.layer_idx = layer_idx
        self.capacity_factor = capacity_factor
        self.aux_loss_weight = aux_loss_weight
        self.router_z_loss_weight = router_z_loss_weight
        self.hidden = mlp_hidden_size(d_model, expansion, activation)
        self.router = Router(d_model, experts)
        self.experts_ffn = ExpertFFNs(experts, d_model, self.hidden, activation)
        self.aux_loss = torch.zeros(())
        self._stats: dict[str, torch.Tensor] = {}
        self.last_expert_load = torch.zeros(experts)  # (E,) fraction of assignments, last forward

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        assert D == self.d_model, f"expected last dim {self.d_model}, got {tuple(x.shape)}"
        E, k = self.experts, self.top_k
        capacity = expert_capacity(L, E, k, self.capacity_factor)

        logits = self.router(x)  # (B, L, E) float32
        probs = logits.softmax(dim=-1)  # (B, L, E)
        top_probs, top_experts = probs.topk(k, dim=-1)  # (B, L, k)
        gates = top_probs if k == 1 else top_probs / top_probs.sum(dim=-1, keepdim=True)

        # Assignments in priority order: token-major, best choice first within a token.
        expert_index = top_experts.reshape(B, L * k)  # (B, A), A = L*k
        slot = causal_slot_positions(expert_index, E)  # (B, A)
        kept = slot < capacity  # (B, A)

        # Flat buffer of E * B * C slots, expert-major so each expert's rows are contiguous.
        batch_index = torch.arange(B, device=x.device).unsqueeze(1).expand(B, L * k)  # (B, A)
        token_index = torch.arange(L, device=x.device).repeat_interleave(k).expand(B, L * k)  # (B, A)
        flat_slot = (expert_index * B + batch_index) * capacity + slot  # (B, A)
        kept_slot = flat_slot[kept]  # (K,)
        kept_token = (batch_index * L + token_index)[kept]  # (K,) row in x.reshape(B*L, D)

        tokens = x.reshape(B * L, D)
        buffer = tokens.new_zeros(E * B * capacity, D)
        buffer[kept_slot] = tokens[kept_token]  # each slot receives at most one token
        expert_out = self.experts_ffn(buffer.view(E, B * capacity, D)).reshape(E * B * capacity, D)

        weighted = expert_out[kept_slot] * gates.reshape(B, L * k)[kept].unsqueeze(-1).to(x.dtype)  # (K, D)
        out = tokens.new_zeros(B * L, D).index_add_(0, kept_token, weighted)  # dropped -> 0
        self._set_losses(logits, probs, expert_index, kept)
        return out.view(B, L, D)

    def _set_losses(self, logits, probs, expert_index, kept) -> None:
        E = self.experts
        assignment_fraction = F.one_hot(expert_index, E).float().mean(dim=(0, 1))  # (E,) f_i, sums to 1
        mean_prob = probs.mean(dim=(0, 1))  # (E,) P_i
        balance = E * (assignment_fraction * mean_prob).sum()
        z_loss = logits.logsumexp(dim=-1).square().mean()
        self.aux_loss = self.aux_loss_weight * balance + self.router_z_loss_weight * z_loss
        self._stats = {
            "aux_loss": balance.detach(),
            "z_loss": z_loss.detach(),
            "fraction_dropped": 1.0 - kept.float().mean(),
            "expert_load_max": assignment_fraction.max(),
            "expert_load_min": assignment_fraction.min(),
        }
        self.last_expert_load = assignment_fraction.detach()

    @property
    def last_stats(self) -> dict[str, float]:
        """Routing statistics of the last forward, as floats (converted on read, not per step):
        aux_loss and z_loss (unweighted), fraction_dropped (of token-expert assignments),
        expert_load_max/min (fraction of assignments going to the busiest/idlest expert)."""
        return {name: float(value) for name, value in self._stats.items()}
