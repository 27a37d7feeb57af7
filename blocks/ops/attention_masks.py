"""Boolean attention masks (True = may attend) for the sparse attention blocks.

Each sparse pattern has two forms: a *blocked* mask used by the block itself, whose size
grows like L·(keys per query) and never L×L, and a *dense* (L, L) mask of the same
pattern, used only by tests and docs to check the blocked computation against plain
masked attention.
"""
from __future__ import annotations

import torch


def causal_dense_mask(length: int, device=None) -> torch.Tensor:
    """(L, L): query t sees keys s <= t."""
    return torch.ones(length, length, dtype=torch.bool, device=device).tril()


# ---------------------------------------------------------------- sliding window (Longformer)

def sliding_window_dense_mask(length: int, window: int, global_tokens: int, device=None) -> torch.Tensor:
    """(L, L): s <= t and (t − s < window or s < global_tokens)."""
    t = torch.arange(length, device=device).unsqueeze(1)
    s = torch.arange(length, device=device).unsqueeze(0)
    return (s <= t) & ((t - s < window) | (s < global_tokens))


def sliding_window_block_mask(
    num_blocks: int, block: int, window: int, global_tokens: int, device=None
) -> torch.Tensor:
    """(num_blocks, block, global_tokens + 2·block) mask for blocked sliding-window attention.

    Query block n (positions n·block + i) sees keys laid out as
    [the global positions 0..g−1, the previous block, its own block].
    A key is used once: a global position already inside the band is masked in the
    global slot. Requires block >= window or a single block, so the band fits.
    """
    assert block >= window or num_blocks == 1, f"block {block} must cover the window {window}"
    n = torch.arange(num_blocks, device=device).view(-1, 1, 1)
    i = torch.arange(block, device=device).view(1, -1, 1)
    t = n * block + i  # (N, b, 1) query positions
    j = torch.arange(block, device=device).view(1, 1, -1)
    local_s = torch.cat([(n - 1) * block + j, n * block + j], dim=-1)  # (N, 1, 2b) key positions
    local = (local_s >= 0) & (local_s <= t) & (t - local_s < window)  # (N, b, 2b)
    g = torch.arange(global_tokens, device=device).view(1, 1, -1)  # (1, 1, g)
    glob = (g <= t) & (t - g >= window)  # (N, b, g)
    return torch.cat([glob.expand(num_blocks, block, global_tokens), local], dim=-1)


# ---------------------------------------------------------------- BigBird block sparsity

def bigbird_block_layout(
    num_blocks: int, window_blocks: int, global_blocks: int, random_blocks: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Which key blocks each query block reads, causally: (index, valid), both (N, K).

    K = 1 + window_blocks + global_blocks + random_blocks slots, in this order:
    slot 0 the own block; then the window_blocks previous blocks; then the global blocks
    0..global_blocks−1; then random earlier blocks drawn without replacement from those
    not already covered. Slots with nothing to read (early blocks) are invalid
    (index 0, valid False). Every block appears at most once per row and every listed
    block is <= the query block, so the pattern is causal. Row n depends only on n and
    the generator's draws for rows < n, so the layout for a shorter sequence is a prefix.
    """
    K = 1 + window_blocks + global_blocks + random_blocks
    index = torch.zeros(num_blocks, K, dtype=torch.long)
    valid = torch.zeros(num_blocks, K, dtype=torch.bool)
    for n in range(num_blocks):
        index[n, 0], valid[n, 0] = n, True
        for w in range(1, window_blocks + 1):
            if n - w >= 0:
                index[n, w], valid[n, w] = n - w, True
        first_window = n - window_blocks  # blocks >= this are own or window
        for gidx in range(global_blocks):
            slot = 1 + window_blocks + gidx
            if gidx < first_window:
                index[n, slot], valid[n, slot] = gidx, True
        candidates = first_window - global_blocks  # blocks global_blocks .. first_window-1
        if candidates > 0 and random_blocks > 0:
            picks = torch.randperm(candidates, generator=generator)[:random_blocks] + global_blocks
            start = 1 + window_blocks + global_blocks
            index[n, start:start + len(picks)] = picks
            valid[n, start:start + len(picks)] = True
    return index, valid


def bigbird_block_mask(valid: torch.Tensor, block: int) -> torch.Tensor:
    """(N, block, K·block) mask for gathered key blocks: a valid slot, causal inside the own block."""
    N, K = valid.shape
    mask = valid.view(N, 1, K, 1).expand(N, block, K, block).clone()  # (N, b, K, b)
    own_causal = torch.ones(block, block, dtype=torch.bool, device=valid.device).tril()  # (b, b)
    mask[:, :, 0, :] &= own_causal
    return mask.reshape(N, block, K * block)


def bigbird_dense_mask(index: torch.Tensor, valid: torch.Tensor, block: int, length: int) -> torch.Tensor:
    """(L, L) mask of the same block layout (for tests): t sees s when s's block is listed for t's block and s <= t."""
    N = index.shape[0]
    adjacency = torch.zeros(N, N, dtype=torch.bool, device=index.device)
    rows = torch.arange(N, device=index.device).unsqueeze(1).expand_as(index)
    adjacency[rows[valid], index[valid]] = True
    blocks = torch.arange(length, device=index.device) // block
    return adjacency[blocks.unsqueeze(1), blocks.unsqueeze(0)] & causal_dense_mask(length, index.device)
