"""Multi-query associative recall (MQAR), as in Zoology (Arora et al. 2023).

A sequence starts with ``num_kv_pairs`` key-value pairs ``k1 v1 k2 v2 ...`` (keys from
the first half of the vocabulary, values from the second, distinct within a sequence).
The rest of the sequence is noise with the keys queried again at positions drawn with
a power-law gap (recent queries are likelier, as in the paper); right after each
queried key the model must produce its value. Loss and accuracy count only there.

The registry entry is plain Python (params, checks, vocabulary and length); batches are made by
``workers.tasks.mqar_data``, imported only when a run draws one.
"""
from __future__ import annotations

from blocks.registry import Param
from workers.tasks import TRAIN_EXAMPLES, TaskType, register


NAME = "mqar"

PARAMS = (
    Param("vocab_size", "int", 256, "tokens; keys use [1, V/2), values [V/2, V)", min=16, max=65536),
    Param("seq_len", "int", 64, "sequence length (even)", min=8, max=65536),
    Param("num_kv_pairs", "int", 4, "key-value pairs to memorise and recall", min=1, max=4096),
    Param("power_a", "float", 0.01, "power-law exponent of the gap before each query (Zoology's default)",
          min=0.001, max=1.0),
    TRAIN_EXAMPLES,
)


def check(params: dict) -> list[tuple[str, str]]:
    problems = []
    vocab, seq_len, pairs = params["vocab_size"], params["seq_len"], params["num_kv_pairs"]
    if seq_len % 2:
        problems.append(("seq_len", f"must be even, got {seq_len}"))
    if 4 * pairs > seq_len:
        problems.append(("num_kv_pairs", f"needs 4 * num_kv_pairs <= seq_len (pairs plus their queries), "
                                         f"got 4 * {pairs} > {seq_len}"))
    if pairs > vocab // 2 - 1:
        problems.append(("num_kv_pairs", f"needs num_kv_pairs <= vocab_size / 2 - 1 = {vocab // 2 - 1} distinct keys"))
    if vocab <= seq_len:
        # Zoology keeps the vocabulary larger than the sequence so noise rarely repeats a key.
        problems.append(("vocab_size", f"must be larger than seq_len ({seq_len}), got {vocab}"))
    return problems


TASK = register(TaskType(
    name=NAME,
    title="Multi-query associative recall",
    description="Memorise key-value pairs, then recall the value after each queried key; "
                "tests in-context recall, where attention excels and fixed-state models struggle.",
    paper="Arora et al. 2023, Zoology: Measuring and Improving Recall in Efficient Language Models",
    params=PARAMS,
    vocab_size=lambda p: p["vocab_size"],
    seq_len=lambda p: p["seq_len"],
    batches="workers.tasks.mqar_data.make_batch",
    check=check,
    tags=("recall", "synthetic"),
))
