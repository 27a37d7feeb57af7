"""How a chunked op cuts a sequence: chunk length, number of chunks and right padding."""
from __future__ import annotations


def chunk_layout(length: int, chunk_size: int) -> tuple[int, int, int]:
    """(chunk, n_chunks, pad) for ``length`` positions in chunks of at most ``chunk_size``;
    the last chunk is right-padded with ``pad`` positions."""
    assert chunk_size >= 1, "chunk_size must be positive"
    chunk = min(chunk_size, length)
    n_chunks = -(-length // chunk)
    return chunk, n_chunks, n_chunks * chunk - length
