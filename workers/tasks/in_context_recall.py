"""Multi-query in-context recall, as in MAD (Poli et al. 2024, "Mechanistic Design and Scaling of
Hybrid Architectures"; repository athms/mad-lab, ``generate_in_context_recall_instance`` with
``multi_query=True``, its benchmark setting).

The sequence is a run of key-value pairs ``k v k v ...``. Keys come from the first half of the
non-noise vocabulary, values from the second; within a sequence each key keeps one value, and
keys are drawn with replacement, so the same key comes back again and again. Whenever a key
returns, its value must be recalled: eval scores exactly those positions (predict ``v`` after
reading the repeated ``k``). The last pair repeats a key seen earlier, so every sequence has at
least one query. With a small vocabulary (MAD's baseline: 16 tokens, 8 keys, 128 positions)
almost every pair is a query.

Training targets follow MAD too: every position is labelled with the next token (see
``next_token_train_labels``), so training also pays for the unpredictable keys and first values;
only eval restricts scoring to recall positions.

``noisy_recall`` reuses this generator with noise: a pair slot becomes two tokens from a separate
noise vocabulary (the top ``noise_vocab_size`` tokens) with probability ``frac_noise``.

Adapted from MAD: batches are drawn with torch generators (pure functions of params, seed, split
and index); the input is the whole ``seq_len``-token sequence (MAD drops the last token, the
final value, which only serves as a target) and its last position carries no label; MAD's
guaranteed non-noise slot is one of the pairs before the final query; train and eval are split by
hashing each example (MAD draws both sets from one generator and only warns on overlap).
"""
from __future__ import annotations

import math

import torch

from blocks.registry import Param
from workers.tasks import (
    IGNORE_INDEX, MIN_DISTINCT_EXAMPLES, TRAIN_EXAMPLES, TaskType, next_token_train_labels, register, split_filtered,
    too_few_examples,
)

NAME = "in_context_recall"

PARAMS = (
    Param("vocab_size", "int", 16, "tokens; keys use the first half, values the second", min=4, max=65536),
    Param("seq_len", "int", 128, "sequence length (even): seq_len / 2 key-value pairs", min=4, max=65536),
    TRAIN_EXAMPLES,
)


def vocab_layout(params: dict) -> tuple[int, int, int]:
    """(keys, non-noise tokens, noise tokens): keys are [0, keys), values [keys, non-noise),
    noise tokens [non-noise, vocab_size)."""
    noise = params.get("noise_vocab_size", 0)
    plain = params["vocab_size"] - noise
    return plain // 2, plain, noise


def check(params: dict) -> list[tuple[str, str]]:
    problems = []
    seq_len = params["seq_len"]
    if seq_len % 2:
        problems.append(("seq_len", f"must be even (the sequence is key-value pairs), got {seq_len}"))
    keys, plain, _ = vocab_layout(params)
    if keys < 1 or plain - keys < 1:
        field = "noise_vocab_size" if "noise_vocab_size" in params else "vocab_size"
        problems.append((field, f"leaves {plain} non-noise tokens; at least 2 are needed (a key half and a value half)"))
    if problems:
        return problems
    # Distinct examples are at least the key sequences of the pairs before the final query.
    log_count = (seq_len // 2 - 1) * math.log(keys)
    count = MIN_DISTINCT_EXAMPLES if log_count > math.log(MIN_DISTINCT_EXAMPLES) else round(math.exp(log_count))
    return too_few_examples("seq_len", count, f"seq_len {seq_len} and {keys} keys", "raise seq_len or vocab_size")


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


def make_task(name: str, title: str, description: str, params: tuple[Param, ...], check_fn,
              make_batch=None) -> TaskType:
    """The registry entry of one of MAD's recall tasks: over this generator unless ``make_batch``
    is given (``noisy_recall`` reuses the generator, ``fuzzy_recall`` brings its own)."""
    return register(TaskType(
        name=name,
        title=title,
        description=description,
        paper="Poli et al. 2024, Mechanistic Design and Scaling of Hybrid Architectures (MAD)",
        params=params,
        vocab_size=lambda p: p["vocab_size"],
        seq_len=lambda p: p["seq_len"],
        make_batch=make_batch or next_token_train_labels(split_filtered(name, generate)),
        check=check_fn,
        tags=("recall", "synthetic", "mad"),
    ))


TASK = make_task(
    NAME, "In-context recall (MAD)",
    "Key-value pairs from a small vocabulary, with keys recurring throughout the sequence; recall each "
    "returning key's value. MAD's multi-query recall, solved by attention, hard for fixed-state models.",
    PARAMS, check)
