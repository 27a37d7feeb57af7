"""Fuzzy in-context recall, as in MAD (Poli et al. 2024, "Mechanistic Design and Scaling of Hybrid
Architectures"; repository athms/mad-lab, ``generate_fuzzy_in_context_recall_instance`` with
``multi_query=True``).

Like ``in_context_recall``, but keys and values are motifs: runs of 1 to ``k_motif_size`` (keys) or
1 to ``v_motif_size`` (values) distinct tokens, keys from the first half of the vocabulary and
values from the second, so the boundaries are visible but a model must match whole multi-token
keys and emit whole multi-token values. Within a sequence a key keeps its value; whenever a key
returns, every token of its value is scored. One pair (the probe) is placed somewhere in the
sequence and repeated at its end, so every sequence has a query. Sequences are left-padded with
the top token of the vocabulary. Training uses keys of every size; eval always uses keys of the
full ``k_motif_size`` (MAD's test set does the same). Training targets are every next token, as in
MAD (``next_token_train_labels``); eval scores only recalled value tokens.

Adapted from MAD: batches are drawn from seeded generators (pure functions of params, seed, split
and index); the probe's first position is drawn so that it always lands inside the sequence (in MAD
it can fall past the end, leaving a final query whose key never appeared); train and eval are split
by hashing each example.
"""
from __future__ import annotations

import math
import random

import torch

from blocks.registry import Param
from workers.tasks import (
    IGNORE_INDEX, MIN_DISTINCT_EXAMPLES, TRAIN_EXAMPLES, finite_train_set, in_context_recall, next_token_train_labels,
    split_filtered_batch, too_few_examples,
)

NAME = "fuzzy_recall"

PARAMS = (
    Param("vocab_size", "int", 16, "tokens: a padding token, then keys and values split the rest in halves",
          min=5, max=65536),
    Param("seq_len", "int", 128, "sequence length (left-padded)", min=8, max=65536),
    Param("k_motif_size", "int", 3, "longest key: keys are 1..k_motif_size distinct key tokens", min=1, max=16),
    Param("v_motif_size", "int", 3, "longest value: values are 1..v_motif_size distinct value tokens", min=1, max=16),
    TRAIN_EXAMPLES,
)


def halves(vocab: int) -> tuple[int, int]:
    """(key tokens, value tokens): keys are [0, keys), values [keys, keys + values); vocab - 1 pads."""
    keys = (vocab - 1) // 2
    return keys, vocab - 1 - keys


def check(params: dict) -> list[tuple[str, str]]:
    vocab, seq_len, k_size, v_size = params["vocab_size"], params["seq_len"], params["k_motif_size"], params["v_motif_size"]
    keys, values = halves(vocab)
    problems = []
    if k_size > keys:
        problems.append(("k_motif_size", f"a key holds distinct tokens, and vocab_size {vocab} has only {keys} key "
                                          f"tokens; got k_motif_size {k_size}"))
    if v_size > values:
        problems.append(("v_motif_size", f"a value holds distinct tokens, and vocab_size {vocab} has only {values} "
                                          f"value tokens; got v_motif_size {v_size}"))
    if seq_len < 4 * (k_size + v_size):
        problems.append(("seq_len", f"needs seq_len >= 4 * (k_motif_size + v_motif_size) = {4 * (k_size + v_size)} "
                                    f"to hold the probe pair twice and some pairs between, got {seq_len}"))
    if problems:
        return problems
    # At least the single-token key sequences of the pairs that fit.
    log_count = (seq_len // (2 * (k_size + v_size))) * math.log(max(1, keys))
    count = MIN_DISTINCT_EXAMPLES if log_count > math.log(MIN_DISTINCT_EXAMPLES) else round(math.exp(log_count))
    return too_few_examples("vocab_size", count, f"vocab_size {vocab} and seq_len {seq_len}", "raise either")


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


TASK = in_context_recall.make_task(
    NAME, "Fuzzy in-context recall (MAD)",
    "In-context recall where keys and values are runs of several tokens; recall each returning key's whole value.",
    PARAMS, check, make_batch=next_token_train_labels(finite_train_set(NAME, make_split_batch)))
