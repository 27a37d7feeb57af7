"""Induction heads, as in H3 (Fu et al. 2023) and Olsson et al. 2022.

A random sequence contains a special trigger token once, followed by an answer
token; the sequence ends with the trigger again and the model must predict the
token that followed it the first time ("... A B ... A -> B"). Only the last
position carries a label.

Tokens: 0 is the trigger, ordinary tokens are 1..vocab_size-1.
"""
from __future__ import annotations

import torch

from blocks.registry import Param
from workers.tasks import IGNORE_INDEX, TRAIN_EXAMPLES, TaskType, register, split_filtered

NAME = "induction_heads"
TRIGGER = 0

PARAMS = (
    Param("seq_len", "int", 64, "sequence length", min=8, max=65536),
    Param("vocab_size", "int", 32, "tokens: the trigger plus vocab_size - 1 ordinary tokens", min=4, max=65536),
    TRAIN_EXAMPLES,
)


def generate(params: dict, generator: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    seq_len, vocab = params["seq_len"], params["vocab_size"]
    x = torch.randint(1, vocab, (n, seq_len), generator=generator)
    # The first trigger goes anywhere that leaves room for its answer before the final trigger.
    trigger_pos = torch.randint(0, seq_len - 2, (n, 1), generator=generator)
    x.scatter_(1, trigger_pos, TRIGGER)
    answer = x.gather(1, trigger_pos + 1)
    x[:, -1] = TRIGGER
    y = torch.full((n, seq_len), IGNORE_INDEX, dtype=torch.long)
    y[:, -1:] = answer
    return x, y


TASK = register(TaskType(
    name=NAME,
    title="Induction heads",
    description="After a trigger token reappears at the end, predict the token that followed it earlier.",
    paper="Olsson et al. 2022, In-context Learning and Induction Heads; Fu et al. 2023, Hungry Hungry Hippos",
    params=PARAMS,
    vocab_size=lambda p: p["vocab_size"],
    seq_len=lambda p: p["seq_len"],
    make_batch=split_filtered(NAME, generate),
    tags=("recall", "synthetic"),
))
