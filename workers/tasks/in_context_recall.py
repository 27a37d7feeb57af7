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

The registry entry is plain Python (params, checks, vocabulary and length); batches are made by
``workers.tasks.in_context_recall_data``, imported only when a run draws one.
"""
from __future__ import annotations

import math

from blocks.registry import Param
from workers.tasks import MIN_DISTINCT_EXAMPLES, TRAIN_EXAMPLES, TaskType, register, too_few_examples


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


def make_task(name: str, title: str, description: str, params: tuple[Param, ...], check_fn,
              batches: str) -> TaskType:
    """The registry entry of one of MAD's recall tasks (``noisy_recall`` and ``fuzzy_recall`` too);
    ``batches`` names its batch function (``TaskType.batches``)."""
    return register(TaskType(
        name=name,
        title=title,
        description=description,
        paper="Poli et al. 2024, Mechanistic Design and Scaling of Hybrid Architectures (MAD)",
        params=params,
        vocab_size=lambda p: p["vocab_size"],
        seq_len=lambda p: p["seq_len"],
        batches=batches,
        check=check_fn,
        tags=("recall", "synthetic", "mad"),
    ))


TASK = make_task(
    NAME, "In-context recall (MAD)",
    "Key-value pairs from a small vocabulary, with keys recurring throughout the sequence; recall each "
    "returning key's value. MAD's multi-query recall, solved by attention, hard for fixed-state models.",
    PARAMS, check, batches="workers.tasks.in_context_recall_data.make_batch")
