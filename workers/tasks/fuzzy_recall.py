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

The registry entry is plain Python (params, checks, vocabulary and length); batches are made by
``workers.tasks.fuzzy_recall_data``, imported only when a run draws one.
"""
from __future__ import annotations

import math

from blocks.registry import Param
from workers.tasks import MIN_DISTINCT_EXAMPLES, TRAIN_EXAMPLES, in_context_recall, too_few_examples


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


TASK = in_context_recall.make_task(
    NAME, "Fuzzy in-context recall (MAD)",
    "In-context recall where keys and values are runs of several tokens; recall each returning key's whole value.",
    PARAMS, check, batches="workers.tasks.fuzzy_recall_data.make_batch")
