"""Batches of ``copy`` (torch); the task's entry is ``workers.tasks.copy``."""
from __future__ import annotations

import torch

from workers.tasks import IGNORE_INDEX
from workers.tasks.copy import NAME, SEPARATOR
from workers.tasks.sampling import split_filtered


def generate(params: dict, generator: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    count, vocab = params["num_tokens"], params["vocab_size"]
    data = torch.randint(1, vocab, (n, count), generator=generator)
    separator = torch.full((n, 1), SEPARATOR, dtype=torch.long)
    full = torch.cat([data, separator, data], dim=1)  # (n, 2K + 1)
    x = full[:, :-1].contiguous()
    y = full[:, 1:].clone()
    # Before the separator has been read the next token is random (or the separator): no label.
    y[:, :count] = IGNORE_INDEX
    return x, y


make_batch = split_filtered(NAME, generate)
