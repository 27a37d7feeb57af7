"""Optimizer hints that blocks put on their parameters, and the AdamW parameter groups built from them.

The reference implementations treat some parameters specially: Mamba exempts ``A_log`` and
``D`` from weight decay (``_no_weight_decay``), S4/S4D register their state-space parameters
with weight decay 0 and a learning rate of at most 1e-3, and Hyena does the same for its
implicit filter. They do it by setting an ``_optim`` dict on the parameter; so do we, with
``hint()``, so that a block says this about its own parameters in its own module and the
trainer needs no list of names.

Without a hint the usual rule applies (nanoGPT, Mamba, S4 alike): matrices are decayed;
vectors (biases, norm gains, per-channel scalars) and embeddings are not.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

HINT_ATTRIBUTE = "_optim"
# The learning-rate cap S4 and Hyena's reference code put on state-space and implicit-filter parameters.
SSM_LR_MAX = 1e-3


def hint(*params: nn.Parameter, weight_decay: float | None = 0.0, lr_max: float | None = None) -> None:
    """Mark parameters: ``weight_decay`` (0.0: never decayed; None: the usual rule) and ``lr_max``
    (the learning rate these parameters train at is capped at this, the schedule's shape kept)."""
    for param in params:
        setattr(param, HINT_ATTRIBUTE, {"weight_decay": weight_decay, "lr_max": lr_max})


@dataclass(frozen=True)
class ParamRule:
    """How one parameter is optimised: decayed or not, its learning-rate cap, and why."""

    name: str
    decayed: bool
    lr_max: float | None
    reason: str


def param_rules(model: nn.Module) -> list[ParamRule]:
    """One rule per trainable parameter of ``model`` (shared parameters once, by first name)."""
    embedding_weights = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    rules = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        given = getattr(param, HINT_ATTRIBUTE, None) or {}
        lr_max = given.get("lr_max")
        if given.get("weight_decay") is not None:
            rules.append(ParamRule(name, given["weight_decay"] > 0, lr_max, "marked by its block"))
        elif id(param) in embedding_weights:
            rules.append(ParamRule(name, False, lr_max, "embedding"))
        elif param.dim() < 2:
            rules.append(ParamRule(name, False, lr_max, "bias, norm gain or per-channel vector"))
        else:
            rules.append(ParamRule(name, True, lr_max, "matrix"))
    return rules


def param_groups(model: nn.Module, *, weight_decay: float, lr: float) -> list[dict]:
    """AdamW groups: one per (decayed, lr cap). Each group carries ``lr_scale``, the factor its
    learning rate is multiplied by at every step (1 unless a cap below ``lr`` applies)."""
    params = dict(model.named_parameters())
    groups: dict[tuple[bool, float], dict] = {}
    for rule in param_rules(model):
        scale = min(1.0, rule.lr_max / lr) if rule.lr_max is not None else 1.0
        group = groups.setdefault((rule.decayed, scale), {
            "params": [], "names": [], "weight_decay": weight_decay if rule.decayed else 0.0, "lr_scale": scale,
        })
        group["params"].append(params[rule.name])
        group["names"].append(rule.name)
    return list(groups.values())
