"""Batches of ``char_lm`` (torch): windows of a corpus's bytes; the task's entry is ``workers.tasks.char_lm``."""
from __future__ import annotations

import functools

import torch

from workers.tasks.char_lm import NAME, RESOLVED_CACHE_SIZE, Corpus, get_corpus
from workers.tasks.sampling import batch_generator


@functools.lru_cache(maxsize=RESOLVED_CACHE_SIZE + 1)
def corpus_tensor(corpus: Corpus) -> torch.Tensor:
    """The corpus's bytes as a 1-D uint8 tensor, made once per corpus (the built-in one included)."""
    return torch.frombuffer(bytearray(corpus.data), dtype=torch.uint8)


def make_batch(params: dict, *, split: str, index: int, batch_size: int, seed: int):
    corpus = get_corpus(params["corpus_id"])
    seq_len = params["seq_len"]
    start, end = corpus.split_range(split)
    generator = batch_generator(NAME, seed, split, index)
    starts = torch.randint(start, end - seq_len, (batch_size,), generator=generator)  # window ends <= end
    data = corpus_tensor(corpus)
    windows = torch.stack([data[s: s + seq_len + 1] for s in starts.tolist()]).long()
    return windows[:, :-1].contiguous(), windows[:, 1:].contiguous()
