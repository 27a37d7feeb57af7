"""Batches of ``fuzzy_recall`` (torch); the task's entry is ``workers.tasks.fuzzy_recall``."""
from __future__ import annotations

import random

import torch

from workers.tasks import IGNORE_INDEX
from workers.tasks.fuzzy_recall import NAME, halves
from workers.tasks.sampling import finite_train_set, next_token_train_labels, split_filtered_batch


def motif(rng: random.Random, low: int, count: int, size: int) -> tuple[int, ...]:
    """``size`` distinct tokens from [low, low + count), in random order (uniform over such tuples)."""
    tokens: list[int] = []
    while len(tokens) < size:
        token = low + int(rng.random() * count)
        if token not in tokens:
            tokens.append(token)
    return tuple(tokens)


def example(params: dict, rng: random.Random, train: bool) -> tuple[list[int], list[int]]:
    """One sequence of seq_len + 1 tokens and the label of each (the value tokens of returning keys)."""
    vocab, seq_len, k_max, v_max = params["vocab_size"], params["seq_len"], params["k_motif_size"], params["v_motif_size"]
    num_keys, num_values = halves(vocab)
    pad = vocab - 1

    def key_size() -> int:
        return 1 + int(rng.random() * k_max) if train else k_max

    def value() -> tuple[int, ...]:
        return motif(rng, num_keys, num_values, 1 + int(rng.random() * v_max))

    probe_key = motif(rng, 0, num_keys, key_size())
    probe_value = value()
    probe_len = len(probe_key) + len(probe_value)
    end = seq_len - probe_len - (k_max + v_max)  # pairs are added while the sequence is shorter than this
    # The probe goes in at the first pair boundary at or after probe_at; pairs are at most
    # k_max + v_max long, so such a boundary always comes before `end`.
    probe_at = int(rng.random() * max(1, end - (k_max + v_max)))
    tokens: list[int] = []
    labels: list[int] = []
    value_of: dict[tuple[int, ...], tuple[int, ...]] = {}
    probe_placed = False
    while len(tokens) < end:
        if not probe_placed and len(tokens) >= probe_at:
            key, val, scored = probe_key, probe_value, False
            probe_placed = True
        else:
            key = motif(rng, 0, num_keys, key_size())
            if key == probe_key:
                probe_placed = True
            val = value_of.get(key) or (probe_value if key == probe_key else value())
            scored = key in value_of
        value_of[key] = val
        tokens += key + val
        labels += [IGNORE_INDEX] * len(key) + (list(val) if scored else [IGNORE_INDEX] * len(val))
    tokens += probe_key + probe_value
    labels += [IGNORE_INDEX] * len(probe_key) + list(probe_value)
    padding = seq_len + 1 - len(tokens)
    return [pad] * padding + tokens, [IGNORE_INDEX] * padding + labels


def generator_for(train: bool):
    def generate(params: dict, generator: torch.Generator, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        # One Python RNG per example, seeded from the batch's torch generator; only random() is used,
        # whose sequence Python keeps stable across versions.
        seeds = torch.randint(0, 2**62, (n,), generator=generator).tolist()
        rows = [example(params, random.Random(seed), train) for seed in seeds]
        full = torch.tensor([tokens for tokens, _ in rows], dtype=torch.long)
        labels = torch.tensor([labels for _, labels in rows], dtype=torch.long)
        return full[:, :-1].contiguous(), labels[:, 1:].contiguous()

    return generate


_GENERATE = {"train": generator_for(True), "eval": generator_for(False)}


def make_split_batch(params: dict, *, split: str, index: int, batch_size: int, seed: int):
    return split_filtered_batch(NAME, _GENERATE.get(split, _GENERATE["train"]), params, split=split, index=index,
                                batch_size=batch_size, seed=seed)


make_batch = next_token_train_labels(finite_train_set(NAME, make_split_batch))
