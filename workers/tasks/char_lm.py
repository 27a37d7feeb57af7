"""Character-level language modelling on the shipped corpus or on a user's uploaded text.

Text is modelled as UTF-8 bytes (vocabulary 256), so any upload works without a
per-corpus alphabet and the vocabulary is known from the params alone; for English
prose a byte is a character. Windows of ``seq_len + 1`` bytes give ``x`` and the
next-byte targets ``y``; every position carries a label.

Split by position: the last ``EVAL_FRACTION`` of the corpus is the eval split and no
train window reaches into it, so train and eval never share a byte of text.

``corpus_id`` 0 is ``workers/data/stdlib_docstrings.txt`` (see its LICENSE.md);
other ids go through the resolver installed with ``set_corpus_resolver`` (see the
package docstring). ``corpus_from_upload`` validates uploaded bytes.

The registry entry and corpora are plain Python (a corpus holds bytes); batches are made by
``workers.tasks.char_lm_data``, imported only when a run draws one.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

from blocks.registry import Param
from workers.data import BUILTIN_CORPUS_PATH
from workers.tasks import SPLITS, TaskType, register

NAME = "char_lm"
VOCAB_SIZE = 256
EVAL_FRACTION = 0.1
MAX_UPLOAD_BYTES = 2 * 1024 * 1024
BUILTIN_CORPUS_ID = 0

PARAMS = (
    Param("seq_len", "int", 128, "bytes of context per example", min=8, max=65536),
    Param("corpus_id", "int", BUILTIN_CORPUS_ID,
          "0: the shipped corpus (CPython docstrings, PSF licence); other ids: an uploaded corpus", min=0),
)


class CorpusInvalid(ValueError):
    """An uploaded or resolved corpus cannot be used; the message says why. ``field`` is always ``corpus``."""

    field = "corpus"


@dataclass(frozen=True)
class Corpus:
    name: str
    data: bytes

    def __len__(self) -> int:
        return len(self.data)

    def split_range(self, split: str) -> tuple[int, int]:
        """[start, end) byte range of a split."""
        boundary = int(len(self) * (1 - EVAL_FRACTION))
        return (0, boundary) if split == "train" else (boundary, len(self))

    def min_split_len(self) -> int:
        return min(end - start for start, end in (self.split_range(s) for s in SPLITS))


def corpus_from_upload(data: bytes, *, name: str = "upload", max_bytes: int = MAX_UPLOAD_BYTES) -> Corpus:
    """Check a user's upload and turn it into a corpus. Raises CorpusInvalid with a clear message."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise CorpusInvalid(f"corpus must be bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) == 0:
        raise CorpusInvalid("corpus file is empty")
    if len(data) > max_bytes:
        raise CorpusInvalid(f"corpus file is {len(data):,} bytes; the limit is {max_bytes:,} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorpusInvalid(f"corpus file is not UTF-8 text: invalid byte at offset {exc.start}") from None
    if not text.strip():
        raise CorpusInvalid("corpus file contains only whitespace")
    return Corpus(name, data)


@functools.lru_cache(maxsize=1)
def builtin_corpus() -> Corpus:
    return Corpus("stdlib_docstrings", BUILTIN_CORPUS_PATH.read_bytes())


_resolver: Callable[[int], Corpus | None] | None = None
# Batches are made every step: resolve each id once, not once per batch (uploads never change).
_resolved: dict[int, Corpus] = {}
RESOLVED_CACHE_SIZE = 4


def set_corpus_resolver(resolver: Callable[[int], Corpus | None] | None) -> None:
    """Install how non-zero ``corpus_id`` values are found (the web app or the CLI does this).

    The resolver returns a Corpus (use ``corpus_from_upload``), None when there is no
    such corpus, or raises CorpusInvalid.
    """
    global _resolver
    _resolver = resolver
    _resolved.clear()


def get_corpus(corpus_id: int) -> Corpus:
    if corpus_id == BUILTIN_CORPUS_ID:
        return builtin_corpus()
    if corpus_id in _resolved:
        return _resolved[corpus_id]
    if _resolver is None:
        raise CorpusInvalid(f"corpus {corpus_id} not found: no uploaded corpora are available here")
    corpus = _resolver(corpus_id)
    if corpus is None:
        raise CorpusInvalid(f"corpus {corpus_id} not found")
    if len(_resolved) >= RESOLVED_CACHE_SIZE:
        _resolved.pop(next(iter(_resolved)))
    _resolved[corpus_id] = corpus
    return corpus


def check(params: dict) -> list[tuple[str, str]]:
    try:
        corpus = get_corpus(params["corpus_id"])
    except CorpusInvalid as exc:
        return [("corpus_id", str(exc))]
    # Each split needs at least a few distinct windows.
    needed = 4 * (params["seq_len"] + 1)
    if corpus.min_split_len() < needed:
        return [("seq_len", f"corpus {corpus.name!r} ({len(corpus):,} bytes) is too short for seq_len "
                            f"{params['seq_len']}: its held-out tenth needs at least {needed} bytes")]
    return []


TASK = register(TaskType(
    name=NAME,
    title="Character language model",
    description="Predict the next byte of English text: the shipped corpus of CPython docstrings "
                "or your own uploaded UTF-8 text.",
    paper="",
    params=PARAMS,
    vocab_size=lambda p: VOCAB_SIZE,
    seq_len=lambda p: p["seq_len"],
    batches="workers.tasks.char_lm_data.make_batch",
    metrics=("loss", "accuracy", "bits_per_byte"),
    check=check,
    tags=("language", "text"),
))
