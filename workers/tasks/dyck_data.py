"""Batches of ``dyck`` (torch); the task's entry is ``workers.tasks.dyck``."""
from __future__ import annotations

import torch

from workers.tasks import IGNORE_INDEX
from workers.tasks.dyck import NAME
from workers.tasks.sampling import split_filtered


def generate(params: dict, generator: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    seq_len, kinds, max_depth = params["seq_len"], params["num_bracket_types"], params["max_depth"]
    tokens = torch.zeros((n, seq_len), dtype=torch.long)
    depth_after = torch.zeros((n, seq_len), dtype=torch.long)
    stack = torch.zeros((n, max_depth), dtype=torch.long)  # bracket kind at each open level
    depth = torch.zeros(n, dtype=torch.long)
    rows = torch.arange(n)
    coins = torch.rand(n, seq_len, generator=generator)
    kinds_drawn = torch.randint(0, kinds, (n, seq_len), generator=generator)
    for t in range(seq_len):
        remaining = seq_len - t
        # Must open at depth 0; must close at max depth or when only enough room is left to close.
        must_open = depth == 0
        must_close = (depth >= max_depth) | (depth >= remaining)
        opens = must_open | (~must_close & (coins[:, t] < params["open_probability"]))
        open_kind = kinds_drawn[:, t]
        top = stack[rows, (depth - 1).clamp(min=0)]
        tokens[:, t] = torch.where(opens, 1 + open_kind, 1 + kinds + top)
        stack[rows, depth.clamp(max=max_depth - 1)] = torch.where(opens, open_kind, stack[rows, depth.clamp(max=max_depth - 1)])
        depth = depth + torch.where(opens, 1, -1)
        depth_after[:, t] = depth
    if params["target"] == "depth":
        return tokens, depth_after
    # Label position t with token t + 1 when that token is a closing bracket.
    y = torch.full((n, seq_len), IGNORE_INDEX, dtype=torch.long)
    following = tokens[:, 1:]
    y[:, :-1] = torch.where(following > kinds, following, IGNORE_INDEX)
    return tokens, y


make_batch = split_filtered(NAME, generate)
