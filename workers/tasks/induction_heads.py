"""Induction heads, as in H3 (Fu et al. 2023) and Olsson et al. 2022.

A random sequence contains a special trigger token once, followed by an answer
token; the sequence ends with the trigger again and the model must predict the
token that followed it the first time ("... A B ... A -> B"). Only the last
position carries a label.

Tokens: 0 is the trigger, ordinary tokens are 1..vocab_size-1.

The registry entry is plain Python (params, checks, vocabulary and length); batches are made by
``workers.tasks.induction_heads_data``, imported only when a run draws one.
"""
from __future__ import annotations

from blocks.registry import Param
from workers.tasks import TRAIN_EXAMPLES, TaskType, register


NAME = "induction_heads"
TRIGGER = 0

PARAMS = (
    Param("seq_len", "int", 64, "sequence length", min=8, max=65536),
    Param("vocab_size", "int", 32, "tokens: the trigger plus vocab_size - 1 ordinary tokens", min=4, max=65536),
    TRAIN_EXAMPLES,
)


TASK = register(TaskType(
    name=NAME,
    title="Induction heads",
    description="After a trigger token reappears at the end, predict the token that followed it earlier.",
    paper="Olsson et al. 2022, In-context Learning and Induction Heads; Fu et al. 2023, Hungry Hungry Hippos",
    params=PARAMS,
    vocab_size=lambda p: p["vocab_size"],
    seq_len=lambda p: p["seq_len"],
    batches="workers.tasks.induction_heads_data.make_batch",
    tags=("recall", "synthetic"),
))
