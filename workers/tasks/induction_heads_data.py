"""Batches of ``induction_heads`` (torch); the task's entry is ``workers.tasks.induction_heads``."""
from __future__ import annotations

import torch

from workers.tasks import IGNORE_INDEX
from workers.tasks.induction_heads import NAME, TRIGGER
from workers.tasks.sampling import split_filtered


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


make_batch = split_filtered(NAME, generate)
