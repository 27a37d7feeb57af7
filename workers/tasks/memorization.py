"""Memorization, as in MAD (Poli et al. 2024, "Mechanistic Design and Scaling of Hybrid
Architectures"; repository athms/mad-lab, ``generate_memorization_instance`` and ``generate_kv_map``).

A fixed key -> value table, the same for every sequence and every run with the same params, must
be learned into the weights: nothing in a sequence reveals a value. A sequence is ``seq_len / 2``
queries ``k INSERT``; after reading the insert token the model must produce the value of ``k``.
Keys are the tokens [0, K) with K = (vocab_size - 1) // 2, values come from [K, vocab_size - 1)
(each key its own value), and vocab_size - 1 is the insert token. MAD's baseline: vocab 256, 32
positions, 256 training sequences; harder settings raise the vocabulary (512 to 8,192), i.e. the
table.

The table is fixed by the param ``table_seed`` (MAD's ``kv_map`` seed, 12345 by default), not by
the run's seed, so runs with different seeds learn the same facts.

Eval is deliberately NOT held out (``TaskType.eval_held_out`` is False): the point is how much of
the table the weights hold, and MAD's test set queries the very same table. Eval does not use the
hash split; eval example ``j`` (counting ``index * batch_size + b``) queries the keys
``order[(j * P + p) % K]`` for its P = seq_len / 2 positions, ``order`` a fixed permutation of the
keys, so consecutive eval examples walk through the whole table and eval accuracy is the fraction
of (repeatedly) asked facts the model recalls. Training sequences query random keys (with
replacement); with ``train_examples`` N > 0 they are N fixed sequences, so, as in MAD, a key that
none of them asks is never taught.

Adapted from MAD: seeded torch generators instead of numpy; the table is a seeded permutation of
the value tokens rather than MAD's shuffled permutation lists; no noise option (MAD's benchmark
uses none for this task).

The registry entry is plain Python (params, checks, vocabulary and length); batches are made by
``workers.tasks.memorization_data``, imported only when a run draws one.
"""
from __future__ import annotations

from blocks.registry import Param
from workers.tasks import TRAIN_EXAMPLES, TaskType, register


NAME = "memorization"

PARAMS = (
    Param("vocab_size", "int", 256, "tokens: (vocab_size - 1) // 2 keys, as many values, one insert token",
          min=8, max=65536),
    Param("seq_len", "int", 32, "sequence length (even): seq_len / 2 key queries", min=2, max=65536),
    Param("table_seed", "int", 12345, "seed of the fixed key -> value table (MAD's kv_map seed)",
          min=0, max=2**31 - 1),
    TRAIN_EXAMPLES,
)


def check(params: dict) -> list[tuple[str, str]]:
    if params["seq_len"] % 2:
        return [("seq_len", f"must be even (the sequence is key, insert pairs), got {params['seq_len']}")]
    return []


def num_keys(vocab: int) -> int:
    return (vocab - 1) // 2


TASK = register(TaskType(
    name=NAME,
    title="Memorization (MAD)",
    description="A fixed key-value table, the same in every sequence, learned into the weights; eval asks "
                "the same facts (not held out) and measures how much of the table was memorised.",
    paper="Poli et al. 2024, Mechanistic Design and Scaling of Hybrid Architectures (MAD)",
    params=PARAMS,
    vocab_size=lambda p: p["vocab_size"],
    seq_len=lambda p: p["seq_len"],
    batches="workers.tasks.memorization_data.make_batch",
    check=check,
    tags=("memory", "synthetic", "mad"),
    eval_held_out=False,
))
