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
    block is <= the query block, so the pattern is causal. Row n's draw uses only the
    n-th row of uniforms taken from the generator, so the layout for a shorter sequence
    is a prefix of the layout for a longer one.
    """
    n = torch.arange(num_blocks).unsqueeze(1)  # (N, 1)
    window = n - torch.arange(1, window_blocks + 1)  # (N, wb): n−1 .. n−wb
    globals_ = torch.arange(global_blocks).expand(num_blocks, -1)  # (N, gb)
    first_window = n - window_blocks  # blocks >= this are the own block or the window
    fixed_index = torch.cat([n, window, globals_], dim=1)
    fixed_valid = torch.cat([torch.ones_like(n, dtype=torch.bool), window >= 0, globals_ < first_window], dim=1)

    # Random slots: r distinct blocks from global_blocks .. first_window−1 by Floyd's
    # sampling, O(r) per row (a randperm per row would be O(N²) for long sequences).
    uniforms = torch.rand(num_blocks, random_blocks, generator=generator).tolist()
    rows = [sample_distinct(row - window_blocks - global_blocks, random_blocks, uniforms[row])
            for row in range(num_blocks)]
    random_valid = torch.tensor([[slot < len(picks) for slot in range(random_blocks)] for picks in rows],
                                dtype=torch.bool).view(num_blocks, random_blocks)
    random_index = torch.tensor([picks + [0] * (random_blocks - len(picks)) for picks in rows],
                                dtype=torch.long).view(num_blocks, random_blocks) + global_blocks
    index = torch.cat([fixed_index, random_index], dim=1)
    valid = torch.cat([fixed_valid, random_valid], dim=1)
    return index.masked_fill(~valid, 0), valid


def sample_distinct(population: int, count: int, uniforms: list[float]) -> list[int]:
    """min(count, population) distinct integers from range(population), uniformly (Floyd's algorithm).

    ``uniforms`` holds ``count`` numbers in [0, 1), the only randomness used.
    """
    if population <= count:
        return list(range(max(population, 0)))
    chosen: list[int] = []
    taken: set[int] = set()
    for u, j in zip(uniforms, range(population - count, population)):
        t = min(int(u * (j + 1)), j)  # uniform in 0..j
        pick = j if t in taken else t
        taken.add(pick)
        chosen.append(pick)
    return chosen


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


# ---------------------------------------------------------------- strided (Sparse Transformer)

def strided_dense_mask(length: int, stride: int, device=None) -> torch.Tensor:
    """(L, L): s <= t and (t − s < stride or (t − s) % stride == 0), Child et al.'s strided pattern."""
    t = torch.arange(length, device=device).unsqueeze(1)
    s = torch.arange(length, device=device).unsqueeze(0)
    return (s <= t) & ((t - s < stride) | ((t - s) % stride == 0))


def strided_column_mask(num_blocks: int, device=None) -> torch.Tensor:
    """(N, N) mask of the strided keys of blocked strided attention: row n (query n·stride + r)
    sees column m (key m·stride + r, same r) for m < n; m = n is the query itself, in the local part."""
    return torch.ones(num_blocks, num_blocks, dtype=torch.bool, device=device).tril(-1)
