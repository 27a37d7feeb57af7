"""Batches of ``selective_copy`` (torch); the task's entry is ``workers.tasks.selective_copy``."""
from __future__ import annotations

import torch

from workers.tasks import IGNORE_INDEX
from workers.tasks.sampling import split_filtered
from workers.tasks.selective_copy import FIRST_DATA, MARKER, NAME, NOISE


def generate(params: dict, generator: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    seq_len, count, vocab = params["seq_len"], params["num_tokens"], params["vocab_size"]
    region = seq_len - count
    data = torch.randint(FIRST_DATA, vocab, (n, count), generator=generator)
    # Choose sorted distinct positions so the data keep their order inside the region.
    positions = torch.rand(n, region, generator=generator).argsort(dim=1)[:, :count].sort(dim=1).values
    x = torch.full((n, seq_len), NOISE, dtype=torch.long)
    x.scatter_(1, positions, data)
    x[:, region:] = MARKER
    # The answer for marker j is data[j]; the prediction is made while reading marker j,
    # which the model sees only after the whole scattered region.
    y = torch.full((n, seq_len), IGNORE_INDEX, dtype=torch.long)
    y[:, region:] = data
    return x, y


make_batch = split_filtered(NAME, generate)
