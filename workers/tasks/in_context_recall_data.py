"""Batches of ``in_context_recall`` (torch); the task's entry is ``workers.tasks.in_context_recall``."""
from __future__ import annotations

import torch

from workers.tasks import IGNORE_INDEX
from workers.tasks.in_context_recall import NAME, vocab_layout
from workers.tasks.sampling import next_token_train_labels, split_filtered


def repeated(keys: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """Per slot: True where the slot is a pair whose key already appeared in an earlier pair slot."""
    n, slots = keys.shape
    position = torch.arange(slots).expand(n, slots)
    # Noise slots get keys of their own (never equal to a real key or to each other).
    code = torch.where(noise, keys.max() + 1 + position, keys)
    order = code.sort(dim=1, stable=True).indices
    sorted_code = code.gather(1, order)
    first = torch.ones_like(sorted_code, dtype=torch.bool)
    first[:, 1:] = sorted_code[:, 1:] != sorted_code[:, :-1]
    seen = torch.empty_like(first)
    seen.scatter_(1, order, ~first)
    return seen & ~noise


def generate(params: dict, generator: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    seq_len = params["seq_len"]
    frac_noise = params.get("frac_noise", 0.0)
    num_keys, plain, noise_tokens = vocab_layout(params)
    slots = seq_len // 2 - 1  # pairs before the final query

    values_of = torch.randint(num_keys, plain, (n, num_keys), generator=generator)  # each key's value, per sequence
    keys = torch.randint(0, num_keys, (n, slots), generator=generator)
    values = values_of.gather(1, keys)
    noise = torch.zeros(n, slots, dtype=torch.bool)
    if frac_noise > 0 and slots:
        noise = torch.rand(n, slots, generator=generator) < frac_noise
        keep = torch.randint(0, slots, (n, 1), generator=generator)  # at least one real pair to query
        noise.scatter_(1, keep, False)
        noise_pairs = torch.randint(plain, plain + noise_tokens, (n, slots, 2), generator=generator)
        keys = torch.where(noise, noise_pairs[..., 0], keys)
        values = torch.where(noise, noise_pairs[..., 1], values)

    # The final query: a key of one of the pairs, each distinct key equally likely (as MAD).
    uses = torch.zeros(n, num_keys).scatter_add_(1, torch.where(noise, 0, keys), (~noise).float())
    probe = torch.multinomial((uses > 0).float(), 1, generator=generator)  # (n, 1)

    x = torch.empty(n, seq_len, dtype=torch.long)
    x[:, 0:2 * slots:2] = keys
    x[:, 1:2 * slots:2] = values
    x[:, -2:-1] = probe
    x[:, -1:] = values_of.gather(1, probe)
    # y[t] is the token after x[t]: the value, after a key that came before.
    y = torch.full((n, seq_len), IGNORE_INDEX, dtype=torch.long)
    y[:, 0:2 * slots:2] = torch.where(repeated(keys, noise), values, IGNORE_INDEX)
    y[:, -2] = x[:, -1]
    return x, y


make_batch = next_token_train_labels(split_filtered(NAME, generate))
