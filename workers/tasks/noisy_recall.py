"""Noisy in-context recall, as in MAD (Poli et al. 2024; repository athms/mad-lab,
``generate_noisy_in_context_recall_instance``).

``in_context_recall`` with distractors: each key-value slot before the final query is, with
probability ``frac_noise``, two tokens from a separate noise vocabulary instead (the top
``noise_vocab_size`` tokens of ``vocab_size``), which is never queried and must be ignored.
MAD's baseline: vocab 32 of which 16 are noise, 128 positions, noise fraction 0.2; harder settings
raise the vocabulary (48, 80, 144, still 16 noise tokens) or the noise fraction (0.4 to 0.8).

Adapted as ``in_context_recall`` is (same generator; see its docstring).

The registry entry is plain Python (params, checks, vocabulary and length); batches are made by
``workers.tasks.noisy_recall_data``, imported only when a run draws one.
"""
from __future__ import annotations

from blocks.registry import Param
from workers.tasks import TRAIN_EXAMPLES, in_context_recall


NAME = "noisy_recall"

PARAMS = (
    Param("vocab_size", "int", 32, "tokens, noise tokens included; keys and values split the rest in halves",
          min=4, max=65536),
    Param("seq_len", "int", 128, "sequence length (even): seq_len / 2 slots of a pair or two noise tokens",
          min=4, max=65536),
    Param("noise_vocab_size", "int", 16, "noise tokens (the top ones of the vocabulary)", min=1, max=65536),
    Param("frac_noise", "float", 0.2, "chance that a slot holds noise instead of a key-value pair", min=0.0, max=0.95),
    TRAIN_EXAMPLES,
)


def check(params: dict) -> list[tuple[str, str]]:
    if params["noise_vocab_size"] >= params["vocab_size"]:
        return [("noise_vocab_size", f"must be below vocab_size ({params['vocab_size']}), "
                                     f"got {params['noise_vocab_size']}")]
    return in_context_recall.check(params)


TASK = in_context_recall.make_task(
    NAME, "Noisy in-context recall (MAD)",
    "In-context recall with noise tokens from a separate vocabulary scattered between the pairs; recall "
    "each returning key's value and ignore the noise.",
    PARAMS, check, batches="workers.tasks.noisy_recall_data.make_batch")
