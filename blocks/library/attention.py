"""Blocks of the attention family: softmax (MHA/GQA), sliding window, BigBird, Linformer,
Performer, linear attention and FNet.

Each block is the token mixer only (projections, mixing, output projection); the compiler
adds the pre-norm and residual. Sparse and low-rank variants compute blockwise so that
memory grows like L·(keys per query), never L×L; their ``dense_reference`` methods run the
same pattern as plain masked attention for tests. Random structure (BigBird's random
blocks, Performer's features) is drawn once from a ``torch.Generator`` seeded with ``seed``
and stored in buffers, so it is fixed per model and not counted as parameters.

Cost conventions (see ``blocks.registry.Cost``): flops count 2 per multiply-add;
activation bytes count float32 tensors autograd keeps for one sequence, including the
attention probabilities of the plain (math) SDPA path over the keys each query can see.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from blocks.ops.attention_masks import (
    bigbird_block_layout,
    bigbird_block_mask,
    bigbird_dense_mask,
    sliding_window_block_mask,
    sliding_window_dense_mask,
)
from blocks.ops.linear_attention import linear_attention, linear_attention_step
from blocks.ops.rotary import apply_rotary, rotary_cos_sin
from blocks.registry import BlockType, Cost, Param, register

BYTES_PER_FLOAT = 4
POSITIONS = ("rope", "learned", "none")
SOFTMAX_FLOPS_PER_SCORE = 5  # max, subtract, exp, sum, divide


# ----------------------------------------------------------------------------- shared helpers

def linear_params(d_in: int, d_out: int, bias: bool) -> int:
    return d_in * d_out + (d_out if bias else 0)


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """(B, L, H·hd) -> (B, H, L, hd)."""
    B, L, _ = x.shape
    return x.view(B, L, heads, -1).transpose(1, 2)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """(B, H, L, hd) -> (B, L, H·hd)."""
    B, H, L, hd = x.shape
    return x.transpose(1, 2).reshape(B, L, H * hd)


def rope(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Rotary embedding of x (B, H, P, hd) at integer positions (P,)."""
    cos, sin = rotary_cos_sin(positions, x.shape[-1], dtype=x.dtype)
    return apply_rotary(x, cos, sin)


def heads_check(d_model: int, params: dict, rope_needed: bool):
    """Problems shared by every multi-head block: heads | d_model, even head_dim for RoPE."""
    heads = params["heads"]
    if d_model % heads:
        yield "heads", f"heads ({heads}) must divide d_model ({d_model})"
    elif rope_needed and (d_model // heads) % 2:
        yield "heads", f"rotary positions need an even head size; d_model/heads = {d_model // heads}"


def dense_attention_flops(d_model: int, heads: int, keys_per_query: float) -> float:
    """Scores and weighted sum (2 matmuls of head_dim per key per head) plus softmax."""
    return 4.0 * d_model * keys_per_query + SOFTMAX_FLOPS_PER_SCORE * heads * keys_per_query


def make_cost(params: int, projection_macs: int, d_model: int, heads: int, seq_len: int,
              keys_per_query: float, kept_per_token: float, scores_kept: float) -> Cost:
    """A Cost from the pieces every attention block has (macs per token, keys per query, ...)."""
    return Cost(
        params=params,
        flops_per_token=2.0 * projection_macs + dense_attention_flops(d_model, heads, keys_per_query),
        activation_bytes=float(BYTES_PER_FLOAT * (seq_len * kept_per_token + scores_kept)),
    )


def causal_keys_per_query(seq_len: int) -> float:
    return (seq_len + 1) / 2.0


def kv_cache_bytes(positions: int, kv_width: int) -> float:
    """Inference state of a KV cache: keys and values of ``positions`` tokens, kv_width floats each."""
    return float(BYTES_PER_FLOAT * 2 * positions * kv_width)


def full_kv_cache_state(d_model: int, seq_len: int, p: dict) -> float:
    """Every past key and value, d_model wide (BigBird's random blocks, memory tokens, ...)."""
    return kv_cache_bytes(seq_len, d_model)


class MultiHeadProjections(nn.Module):
    """q (H heads), k and v (kv_heads heads) and the output projection, all d_model wide inputs."""

    def __init__(self, d_model: int, heads: int, kv_heads: int | None = None, bias: bool = False):
        super().__init__()
        kv_heads = kv_heads or heads
        assert d_model % heads == 0, f"heads ({heads}) must divide d_model ({d_model})"
        assert heads % kv_heads == 0, f"kv_heads ({kv_heads}) must divide heads ({heads})"
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, d_model // heads
        self.q_proj = nn.Linear(d_model, d_model, bias=bias)
        self.kv_proj = nn.Linear(d_model, 2 * kv_heads * self.head_dim, bias=bias)
        self.out_proj = nn.Linear(d_model, d_model, bias=bias)

    def qkv(self, x: torch.Tensor):
        """x (B, L, D) -> q (B, H, L, hd), k and v (B, Hkv, L, hd)."""
        k, v = self.kv_proj(x).chunk(2, dim=-1)
        return split_heads(self.q_proj(x), self.heads), split_heads(k, self.kv_heads), split_heads(v, self.kv_heads)

    def expand_kv(self, t: torch.Tensor) -> torch.Tensor:
        """Grouped-query attention: repeat each kv head for the query heads that share it."""
        groups = self.heads // self.kv_heads
        return t if groups == 1 else t.repeat_interleave(groups, dim=1)

    def out(self, y: torch.Tensor) -> torch.Tensor:
        """y (B, H, L, hd) -> (B, L, D)."""
        return self.out_proj(merge_heads(y))


def blocked_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Attention inside blocks: q (B, H, N, b, hd), k and v (B, H, N, K, hd), mask (N, b, K) -> (B, H, N, b, hd).

    Blocks are folded into SDPA's head dimension so it gets the 4-D inputs its fused
    (memory-efficient) kernels accept; the math fallback would keep the same (N, b, K) scores.
    """
    B, H, N, b, hd = q.shape
    K = k.shape[3]
    y = F.scaled_dot_product_attention(
        q.reshape(B, H * N, b, hd),
        k.reshape(B, H * N, K, hd),
        v.reshape(B, H * N, K, v.shape[-1]),
        attn_mask=mask.unsqueeze(0).expand(H, N, b, K).reshape(H * N, b, K),
    )
    return y.view(B, H, N, b, -1)


def multi_head_params(d_model: int, heads: int, kv_heads: int, bias: bool) -> int:
    kv_dim = 2 * kv_heads * (d_model // heads)
    return 2 * linear_params(d_model, d_model, bias) + linear_params(d_model, kv_dim, bias)


# Length-like static defaults (window, block_size, proj_len, chunk_size) are 8, the smallest
# max_seq_len a spec may have, so every block builds with its defaults in any valid model; in a
# spec, window, block_size, proj_len and BigBird's global/random blocks grow with the context
# (context_default below).
HEADS_PARAM = Param("heads", "int", 4, "Number of attention heads; must divide d_model.", min=1, max=128)


# ---- defaults that move toward the papers' as the context grows (Param.context_default) -------
# Each is valid at any length (never more than the context, so also inside a small chunk); the
# static Param.default is the value at the shortest lengths.

def _clamp(low: int, value: int, high: int) -> int:
    return max(low, min(high, value))


def performer_features_default(d_model: int, max_seq_len: int, p: dict) -> int:
    """FastAttention's default (performer-pytorch): int(head_dim * ln(head_dim)), at least 1."""
    head_dim = max(1, d_model // p["heads"])
    return max(1, int(head_dim * math.log(head_dim)))


def linformer_proj_len_default(d_model: int, max_seq_len: int, p: dict) -> int:
    """k = L/4 between 8 and 128 (the paper's k = 128 at n = 512; it uses 128-256 beyond)."""
    return min(max_seq_len, _clamp(8, max_seq_len // 4, 128))


def sliding_window_default(d_model: int, max_seq_len: int, p: dict) -> int:
    """w = L/8 between 8 and 512 (Longformer's 512 at 4,096 tokens)."""
    return min(max_seq_len, _clamp(8, max_seq_len // 8, 512))


def bigbird_block_size_default(d_model: int, max_seq_len: int, p: dict) -> int:
    """b = L/16 between 8 and 64 (BigBird's 64 from 1,024 tokens on)."""
    return min(max_seq_len, _clamp(8, max_seq_len // 16, 64))


def _bigbird_blocks(max_seq_len: int, p: dict) -> int:
    return math.ceil(max_seq_len / p["block_size"])


def bigbird_global_blocks_default(d_model: int, max_seq_len: int, p: dict) -> int:
    """One global block per 4 blocks, between 1 and BigBird's 2 (2 needs at least 8 blocks)."""
    return _clamp(1, _bigbird_blocks(max_seq_len, p) // 4, 2)


def bigbird_random_blocks_default(d_model: int, max_seq_len: int, p: dict) -> int:
    """One random block per 4 blocks, between 1 and BigBird's 3."""
    return _clamp(1, _bigbird_blocks(max_seq_len, p) // 4, 3)



# ----------------------------------------------------------------------------- softmax attention

class SoftmaxAttention(nn.Module):
    """Causal multi-head (or grouped-query) softmax attention with a KV-cache step form.

    position: rope (rotary on q, k), learned (an absolute embedding added to the input,
    GPT-2 style, max_seq_len rows) or none.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 heads: int = 4, kv_heads: int = 0, position: str = "rope", bias: bool = False):
        super().__init__()
        assert position in POSITIONS, f"position must be one of {POSITIONS}, got {position!r}"
        assert kv_heads >= 0, f"kv_heads must be >= 0, got {kv_heads}"
        self.max_seq_len, self.position = max_seq_len, position
        self.proj = MultiHeadProjections(d_model, heads, kv_heads or heads, bias)
        assert position != "rope" or self.proj.head_dim % 2 == 0, "rope needs an even head size"
        self.pos_emb = None
        if position == "learned":
            self.pos_emb = nn.Embedding(max_seq_len, d_model)
            nn.init.normal_(self.pos_emb.weight, std=0.02)  # GPT-2's scale: small next to the normed input

    def _project(self, x: torch.Tensor, positions: torch.Tensor):
        if self.pos_emb is not None:
            assert int(positions[-1]) < self.max_seq_len, f"position {int(positions[-1])} >= max_seq_len"
            x = x + self.pos_emb(positions)
        q, k, v = self.proj.qkv(x)  # (B, H, L, hd), (B, Hkv, L, hd) x2
        if self.position == "rope":
            q, k = rope(q, positions), rope(k, positions)
        return q, k, v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        positions = torch.arange(x.shape[1], device=x.device)
        q, k, v = self._project(x, positions)
        y = F.scaled_dot_product_attention(q, self.proj.expand_kv(k), self.proj.expand_kv(v), is_causal=True)
        return self.proj.out(y)  # (B, L, D)

    def init_state(self, batch_size: int, device=None, dtype=None) -> dict:
        """KV cache: keys and values seen so far (B, Hkv, t, hd) and the next position."""
        empty = torch.zeros(batch_size, self.proj.kv_heads, 0, self.proj.head_dim, device=device, dtype=dtype)
        return {"k": empty, "v": empty.clone(), "pos": 0}

    def step(self, x_t: torch.Tensor, state: dict):
        """x_t (B, D) -> (y_t (B, D), state): attend from position pos to the cache plus itself."""
        positions = torch.tensor([state["pos"]], device=x_t.device)
        q, k, v = self._project(x_t.unsqueeze(1), positions)  # (B, H, 1, hd), (B, Hkv, 1, hd)
        k_all = torch.cat([state["k"], k], dim=2)
        v_all = torch.cat([state["v"], v], dim=2)
        y = F.scaled_dot_product_attention(q, self.proj.expand_kv(k_all), self.proj.expand_kv(v_all))
        return self.proj.out(y).squeeze(1), {"k": k_all, "v": v_all, "pos": state["pos"] + 1}


def softmax_attention_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    heads, kv_heads = p["heads"], p["kv_heads"] or p["heads"]
    kv_dim = kv_heads * (d_model // heads)
    params = multi_head_params(d_model, heads, kv_heads, p["bias"])
    if p["position"] == "learned":
        params += seq_len * d_model  # the embedding has max_seq_len rows: call with seq_len = max_seq_len
    macs = 2 * d_model * d_model + 2 * d_model * kv_dim
    return make_cost(params, macs, d_model, heads, seq_len, causal_keys_per_query(seq_len),
                     kept_per_token=3 * d_model + 2 * kv_dim, scores_kept=heads * seq_len * seq_len)


def softmax_attention_state(d_model: int, seq_len: int, p: dict) -> float:
    heads, kv_heads = p["heads"], p["kv_heads"] or p["heads"]
    return kv_cache_bytes(seq_len, kv_heads * (d_model // heads))  # grouped-query: kv_heads wide


def softmax_attention_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, p["position"] == "rope")
    kv = p["kv_heads"]
    if kv and (kv > p["heads"] or p["heads"] % kv):
        yield "kv_heads", f"kv_heads ({kv}) must divide heads ({p['heads']}); 0 means one per head"


register(BlockType(
    name="softmax_attention",
    family="attention",
    title="Softmax attention",
    description="Causal multi-head dot-product attention (grouped-query when kv_heads < heads), with a KV-cache step.",
    paper="Vaswani et al. 2017, Attention Is All You Need; Ainslie et al. 2023, GQA",
    params=(
        HEADS_PARAM,
        Param("kv_heads", "int", 0, "Key/value heads (grouped-query attention); must divide heads. "
              "0 = one per query head (multi-head).", min=0, max=128),
        Param("position", "choice", "rope", "Position code: rotary (RoPE), learned absolute embedding, or none.",
              choices=POSITIONS),
        Param("bias", "bool", False, "Add biases to the projections."),
    ),
    build=SoftmaxAttention,
    cost=softmax_attention_cost,
    state=softmax_attention_state,
    complexity="O(L^2)",
    causal=True,
    recurrent=True,
    check=softmax_attention_check,
    tags=("softmax", "kv-cache"),
))


# ----------------------------------------------------------------------------- sliding window

class SlidingWindowAttention(nn.Module):
    """Longformer's causal sliding window plus global tokens, computed block by block.

    Token t sees the last ``window`` positions (itself included) and the first
    ``global_tokens`` positions. The sequence is cut into blocks of the window's size;
    each query block attends to [global keys, previous block, own block] with the band
    mask, so memory is O(L·(window + global_tokens)). The step form keeps a KV cache of
    just the global positions and the last window − 1 positions.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 heads: int = 4, window: int = 8, global_tokens: int = 0, position: str = "rope"):
        super().__init__()
        assert 1 <= window <= max_seq_len, f"window must be in [1, max_seq_len={max_seq_len}], got {window}"
        assert 0 <= global_tokens <= max_seq_len, f"global_tokens must be in [0, {max_seq_len}], got {global_tokens}"
        assert position in ("rope", "none"), f"position must be rope or none, got {position!r}"
        self.window, self.global_tokens, self.position = window, global_tokens, position
        self.proj = MultiHeadProjections(d_model, heads)
        assert position != "rope" or self.proj.head_dim % 2 == 0, "rope needs an even head size"

    def _project(self, x: torch.Tensor):
        q, k, v = self.proj.qkv(x)  # (B, H, L, hd) each
        if self.position == "rope":
            positions = torch.arange(x.shape[1], device=x.device)
            q, k = rope(q, positions), rope(k, positions)
        return q, k, v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        q, k, v = self._project(x)
        block = min(self.window, L)  # one block when the whole sequence fits in the window
        N = -(-L // block)
        pad = N * block - L
        g = min(self.global_tokens, L)
        mask = sliding_window_block_mask(N, block, self.window, g, device=x.device)  # (N, b, g + 2b)

        def blocks(t):  # (B, H, L, hd) -> (B, H, N, b, hd)
            return F.pad(t, (0, 0, 0, pad)).view(B, self.proj.heads, N, block, -1)

        def with_neighbours(t):  # keys/values: [global, previous block, own block] per query block
            tb = blocks(t)
            previous = F.pad(tb, (0, 0, 0, 0, 1, 0))[:, :, :-1]  # block n-1 (zeros for n = 0, masked)
            glob = t[:, :, :g].unsqueeze(2).expand(-1, -1, N, -1, -1)  # (B, H, N, g, hd)
            return torch.cat([glob, previous, tb], dim=3)  # (B, H, N, g + 2b, hd)

        y = blocked_attention(blocks(q), with_neighbours(k), with_neighbours(v), mask)  # (B, H, N, b, hd)
        y = y.reshape(B, self.proj.heads, N * block, -1)[:, :, :L]  # (B, H, L, hd)
        return self.proj.out(y)

    def init_state(self, batch_size: int, device=None, dtype=None) -> dict:
        """KV caches of the global positions (< global_tokens) and of the last window − 1 positions."""
        empty = torch.zeros(batch_size, self.proj.heads, 0, self.proj.head_dim, device=device, dtype=dtype)
        return {"k_global": empty, "v_global": empty, "k_recent": empty, "v_recent": empty, "pos": 0}

    def step(self, x_t: torch.Tensor, state: dict):
        """x_t (B, D) -> (y_t, state); the cache never holds more than window − 1 + global_tokens keys."""
        t = state["pos"]
        q, k, v = self.proj.qkv(x_t.unsqueeze(1))  # (B, H, 1, hd)
        if self.position == "rope":
            positions = torch.tensor([t], device=x_t.device)
            q, k = rope(q, positions), rope(k, positions)
        k_recent = torch.cat([state["k_recent"], k], dim=2)  # positions max(0, t−w+1) .. t
        v_recent = torch.cat([state["v_recent"], v], dim=2)
        older_globals = max(0, min(self.global_tokens, t - self.window + 1))  # globals outside the band
        keys = torch.cat([state["k_global"][:, :, :older_globals], k_recent], dim=2)
        values = torch.cat([state["v_global"][:, :, :older_globals], v_recent], dim=2)
        y = self.proj.out(F.scaled_dot_product_attention(q, keys, values)).squeeze(1)
        keep = max(0, k_recent.shape[2] - (self.window - 1))  # drop what leaves the window at t + 1
        new_state = {
            "k_global": state["k_global"], "v_global": state["v_global"],
            "k_recent": k_recent[:, :, keep:], "v_recent": v_recent[:, :, keep:], "pos": t + 1,
        }
        if t < self.global_tokens:
            new_state["k_global"] = torch.cat([state["k_global"], k], dim=2)
            new_state["v_global"] = torch.cat([state["v_global"], v], dim=2)
        return y, new_state

    def dense_reference(self, x: torch.Tensor) -> torch.Tensor:
        """The same attention with a full (L, L) mask. For tests: O(L²) memory."""
        q, k, v = self._project(x)
        mask = sliding_window_dense_mask(x.shape[1], self.window, self.global_tokens, device=x.device)
        return self.proj.out(F.scaled_dot_product_attention(q, k, v, attn_mask=mask))


def sliding_window_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    w, g = min(p["window"], seq_len), min(p["global_tokens"], seq_len)
    keys = min(w, causal_keys_per_query(seq_len)) + g  # band (at most w) plus the globals beyond it
    block_keys = g + 2 * w  # what each query row of the blocked computation scores
    return make_cost(multi_head_params(d_model, p["heads"], p["heads"], False), 4 * d_model * d_model,
                     d_model, p["heads"], seq_len, keys, kept_per_token=5 * d_model,
                     scores_kept=p["heads"] * seq_len * block_keys)


def sliding_window_state(d_model: int, seq_len: int, p: dict) -> float:
    # Between tokens the step keeps the last window - 1 positions and the global ones.
    return kv_cache_bytes(min(seq_len, p["window"] - 1) + min(seq_len, p["global_tokens"]), d_model)


def sliding_window_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, p["position"] == "rope")
    if p["window"] > max_seq_len:
        yield "window", f"window ({p['window']}) must be <= max_seq_len ({max_seq_len})"
    if p["global_tokens"] > max_seq_len:
        yield "global_tokens", f"global_tokens ({p['global_tokens']}) must be <= max_seq_len ({max_seq_len})"


register(BlockType(
    name="sliding_window_attention",
    family="attention",
    title="Sliding-window attention",
    description="Causal local attention over the last `window` tokens plus the first `global_tokens` "
                "(Longformer), computed blockwise.",
    paper="Beltagy et al. 2020, Longformer: The Long-Document Transformer",
    params=(
        HEADS_PARAM,
        Param("window", "int", 8, "Each token sees this many most recent positions, itself included. "
              "Left out: max_seq_len / 8 between 8 and 512 (Longformer's 512).", min=1, max=65536,
              context_default=sliding_window_default, paper_value=512),
        Param("global_tokens", "int", 0, "The first g positions are global: every later token may attend to them.",
              min=0, max=65536),
        Param("position", "choice", "rope", "Position code: rotary (RoPE) or none.", choices=("rope", "none")),
    ),
    build=SlidingWindowAttention,
    cost=sliding_window_cost,
    state=sliding_window_state,
    complexity="O(L·w)",
    causal=True,
    recurrent=True,
    check=sliding_window_check,
    tags=("softmax", "sparse", "local"),
))


# ----------------------------------------------------------------------------- BigBird

class BigBirdAttention(nn.Module):
    """Causal block-sparse attention: own block, window blocks, global blocks, random past blocks.

    The layout (which key blocks each query block reads) is drawn once for max_seq_len from
    a generator seeded with ``seed`` and kept as buffers; the keys of those blocks are
    gathered, so memory is O(L·K·block_size) with K = 1 + window + global + random blocks.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, heads: int = 4,
                 block_size: int = 8, window_blocks: int = 1, global_blocks: int = 1, random_blocks: int = 1,
                 position: str = "rope"):
        super().__init__()
        assert 1 <= block_size <= max_seq_len, f"block_size must be in [1, {max_seq_len}], got {block_size}"
        assert min(window_blocks, global_blocks, random_blocks) >= 0, "block counts must be >= 0"
        assert position in ("rope", "none"), f"position must be rope or none, got {position!r}"
        self.block_size, self.position = block_size, position
        self.proj = MultiHeadProjections(d_model, heads)
        assert position != "rope" or self.proj.head_dim % 2 == 0, "rope needs an even head size"
        generator = torch.Generator().manual_seed(seed)
        index, valid = bigbird_block_layout(-(-max_seq_len // block_size), window_blocks, global_blocks,
                                            random_blocks, generator)
        self.register_buffer("key_block_index", index)  # (N_max, K)
        self.register_buffer("key_block_valid", valid)  # (N_max, K)

    def _project(self, x: torch.Tensor):
        q, k, v = self.proj.qkv(x)
        if self.position == "rope":
            positions = torch.arange(x.shape[1], device=x.device)
            q, k = rope(q, positions), rope(k, positions)
        return q, k, v

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        b = self.block_size
        N = -(-L // b)
        assert N <= self.key_block_index.shape[0], f"sequence length {L} exceeds max_seq_len"
        index, valid = self.key_block_index[:N], self.key_block_valid[:N]  # (N, K)
        K = index.shape[1]
        q, k, v = self._project(x)
        pad = N * b - L

        def blocks(t):  # (B, H, L, hd) -> (B, H, N, b, hd)
            return F.pad(t, (0, 0, 0, pad)).view(B, self.proj.heads, N, b, -1)

        def gathered(t):  # (B, H, N, K·b, hd): the listed key blocks of each query block
            return blocks(t)[:, :, index].reshape(B, self.proj.heads, N, K * b, -1)

        mask = bigbird_block_mask(valid, b)  # (N, b, K·b)
        y = blocked_attention(blocks(q), gathered(k), gathered(v), mask)  # (B, H, N, b, hd)
        y = y.reshape(B, self.proj.heads, N * b, -1)[:, :, :L]  # (B, H, L, hd)
        return self.proj.out(y)

    def init_state(self, batch_size: int, device=None, dtype=None) -> dict:
        """A full KV cache: random blocks may point anywhere in the past."""
        empty = torch.zeros(batch_size, self.proj.heads, 0, self.proj.head_dim, device=device, dtype=dtype)
        return {"k": empty, "v": empty.clone(), "pos": 0}

    def step(self, x_t: torch.Tensor, state: dict):
        """x_t (B, D) -> (y_t, state): attend to the cached positions of this block's listed key blocks."""
        t, b = state["pos"], self.block_size
        n = t // b
        assert n < self.key_block_index.shape[0], f"position {t} exceeds max_seq_len"
        q, k, v = self.proj.qkv(x_t.unsqueeze(1))  # (B, H, 1, hd)
        if self.position == "rope":
            positions = torch.tensor([t], device=x_t.device)
            q, k = rope(q, positions), rope(k, positions)
        k_all, v_all = torch.cat([state["k"], k], dim=2), torch.cat([state["v"], v], dim=2)
        listed = self.key_block_index[n][self.key_block_valid[n]]  # key blocks of block n
        visible = (listed.unsqueeze(1) * b + torch.arange(b, device=listed.device)).flatten()
        visible = visible[visible <= t]  # the own block only up to t; listed others are wholly past
        y = F.scaled_dot_product_attention(q, k_all[:, :, visible], v_all[:, :, visible])
        return self.proj.out(y).squeeze(1), {"k": k_all, "v": v_all, "pos": t + 1}

    def dense_mask(self, length: int) -> torch.Tensor:
        N = -(-length // self.block_size)
        return bigbird_dense_mask(self.key_block_index[:N], self.key_block_valid[:N], self.block_size, length)

    def dense_reference(self, x: torch.Tensor) -> torch.Tensor:
        """The same attention with this model's layout expanded to an (L, L) mask. For tests."""
        q, k, v = self._project(x)
        return self.proj.out(F.scaled_dot_product_attention(q, k, v, attn_mask=self.dense_mask(x.shape[1])))


def bigbird_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    b = min(p["block_size"], seq_len)
    K = 1 + p["window_blocks"] + p["global_blocks"] + p["random_blocks"]
    keys = min(K * b, causal_keys_per_query(seq_len))
    return make_cost(multi_head_params(d_model, p["heads"], p["heads"], False), 4 * d_model * d_model,
                     d_model, p["heads"], seq_len, keys, kept_per_token=5 * d_model,
                     scores_kept=p["heads"] * seq_len * K * b)


def bigbird_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, p["position"] == "rope")
    if p["block_size"] > max_seq_len:
        yield "block_size", f"block_size ({p['block_size']}) must be <= max_seq_len ({max_seq_len})"
    elif p["global_blocks"] * p["block_size"] > max_seq_len:
        covered = p["global_blocks"] * p["block_size"]
        yield "global_blocks", f"global_blocks x block_size ({covered}) exceeds max_seq_len ({max_seq_len})"


register(BlockType(
    name="bigbird_attention",
    family="attention",
    title="BigBird attention",
    description="Causal block-sparse attention: own + window blocks, global blocks and seeded random past blocks.",
    paper="Zaheer et al. 2020, Big Bird: Transformers for Longer Sequences",
    params=(
        HEADS_PARAM,
        Param("block_size", "int", 8, "Tokens per block. Left out: max_seq_len / 16 between 8 and 64 "
              "(BigBird's 64).", min=1, max=4096, context_default=bigbird_block_size_default, paper_value=64),
        Param("window_blocks", "int", 1, "Previous blocks each block always sees (besides itself). BigBird's "
              "window is 3 blocks, its own and one on each side: causally, its own and 1 previous.",
              min=0, max=64, paper_value=1),
        Param("global_blocks", "int", 1, "The first blocks, seen by every later block. Left out: one per 4 "
              "blocks, between 1 and BigBird's 2.", min=0, max=64,
              context_default=bigbird_global_blocks_default, paper_value=2),
        Param("random_blocks", "int", 1, "Random earlier blocks per block, fixed per model by its seed. Left "
              "out: one per 4 blocks, between 1 and BigBird's 3.", min=0, max=64,
              context_default=bigbird_random_blocks_default, paper_value=3),
        Param("position", "choice", "rope", "Position code: rotary (RoPE) or none.", choices=("rope", "none")),
    ),
    build=BigBirdAttention,
    cost=bigbird_cost,
    state=full_kv_cache_state,  # random blocks may point anywhere in the past
    complexity="O(L·b)",  # each query scores (1 + window + global + random) · block_size keys
    causal=True,
    recurrent=True,
    check=bigbird_check,
    tags=("softmax", "sparse", "random"),
))


# ----------------------------------------------------------------------------- Linformer

class LinformerAttention(nn.Module):
    """Keys and values projected along the length to ``proj_len`` slots (Linformer).

    Non-causal (the paper): K' = E·K, V' = F·V with E, F (proj_len, max_seq_len), and every
    query attends to the proj_len slots.

    Causal variant (ours): the sequence is cut into chunks of ``chunk_size``. A query in
    chunk n attends to (a) the proj_len slots of the *completed* chunks before n, i.e.
    E[:, :n·c]·K[:n·c] (the paper's projection restricted to the past, computed as a
    prefix sum of per-chunk projections), and (b) the tokens of its own chunk up to
    itself, exactly. Nothing after the query is used. Memory O(L·(proj_len + chunk_size)).
    Its step form carries the running projection of completed chunks plus the current chunk.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, heads: int = 4,
                 proj_len: int = 8, causal: bool = True, chunk_size: int = 8):
        super().__init__()
        assert 1 <= proj_len <= max_seq_len, f"proj_len must be in [1, {max_seq_len}], got {proj_len}"
        assert 1 <= chunk_size <= max_seq_len, f"chunk_size must be in [1, {max_seq_len}], got {chunk_size}"
        self.causal, self.chunk_size, self.max_seq_len = causal, chunk_size, max_seq_len
        self.proj = MultiHeadProjections(d_model, heads)
        # Shared across heads (the paper's "headwise sharing"); std 1/sqrt(max_seq_len) keeps
        # a projected key about as large as one key.
        self.key_compress = nn.Parameter(torch.randn(proj_len, max_seq_len) / math.sqrt(max_seq_len))
        self.value_compress = nn.Parameter(torch.randn(proj_len, max_seq_len) / math.sqrt(max_seq_len))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        assert L <= self.max_seq_len, f"sequence length {L} exceeds max_seq_len {self.max_seq_len}"
        q, k, v = self.proj.qkv(x)  # (B, H, L, hd)
        E, Fv = self.key_compress[:, :L], self.value_compress[:, :L]  # (r, L)
        if not self.causal:
            k_low = torch.einsum("rl,bhld->bhrd", E, k)  # (B, H, r, hd)
            v_low = torch.einsum("rl,bhld->bhrd", Fv, v)
            return self.proj.out(F.scaled_dot_product_attention(q, k_low, v_low))

        c = min(self.chunk_size, L)
        N = -(-L // c)
        pad = N * c - L
        H, r = self.proj.heads, E.shape[0]

        def chunks(t):  # (B, H, L, hd) -> (B, H, N, c, hd)
            return F.pad(t, (0, 0, 0, pad)).view(B, H, N, c, -1)

        def past_slots(proj, t):  # (B, H, N, r, hd): projection of all chunks before n
            per_chunk = torch.einsum("rnc,bhncd->bhnrd", F.pad(proj, (0, pad)).view(r, N, c), chunks(t))
            return torch.cumsum(per_chunk, dim=2) - per_chunk

        keys = torch.cat([past_slots(E, k), chunks(k)], dim=3)  # (B, H, N, r + c, hd)
        values = torch.cat([past_slots(Fv, v), chunks(v)], dim=3)
        has_past = (torch.arange(N, device=x.device) > 0).view(N, 1, 1).expand(N, c, r)
        own = torch.ones(c, c, dtype=torch.bool, device=x.device).tril().expand(N, c, c)
        mask = torch.cat([has_past, own], dim=-1)  # (N, c, r + c)
        y = blocked_attention(chunks(q), keys, values, mask)  # (B, H, N, c, hd)
        return self.proj.out(y.reshape(B, H, N * c, -1)[:, :, :L])

    def init_state(self, batch_size: int, device=None, dtype=None) -> dict:
        """Causal variant only: the projection of completed chunks, of the current chunk so far,
        and the current chunk's raw keys/values. Memory O(proj_len + chunk_size) per head."""
        assert self.causal, "the bidirectional Linformer has no step form (it reads future tokens)"
        H, hd, r = self.proj.heads, self.proj.head_dim, self.key_compress.shape[0]
        slots = torch.zeros(batch_size, H, r, hd, device=device, dtype=dtype)
        empty = torch.zeros(batch_size, H, 0, hd, device=device, dtype=dtype)
        return {"k_past": slots, "v_past": slots, "k_pending": slots, "v_pending": slots,
                "k_chunk": empty, "v_chunk": empty, "pos": 0}

    def step(self, x_t: torch.Tensor, state: dict):
        t, c = state["pos"], self.chunk_size
        assert t < self.max_seq_len, f"position {t} exceeds max_seq_len {self.max_seq_len}"
        q, k, v = self.proj.qkv(x_t.unsqueeze(1))  # (B, H, 1, hd)
        k_chunk, v_chunk = torch.cat([state["k_chunk"], k], dim=2), torch.cat([state["v_chunk"], v], dim=2)
        k_pending = state["k_pending"] + torch.einsum("r,bhd->bhrd", self.key_compress[:, t], k[:, :, 0])
        v_pending = state["v_pending"] + torch.einsum("r,bhd->bhrd", self.value_compress[:, t], v[:, :, 0])
        keys, values = k_chunk, v_chunk
        if t >= c:  # some chunk is complete: its projection is visible
            keys, values = torch.cat([state["k_past"], keys], dim=2), torch.cat([state["v_past"], values], dim=2)
        y = self.proj.out(F.scaled_dot_product_attention(q, keys, values)).squeeze(1)
        state = dict(state, k_chunk=k_chunk, v_chunk=v_chunk, k_pending=k_pending, v_pending=v_pending, pos=t + 1)
        if (t + 1) % c == 0:  # chunk complete: fold it into the past projection
            zero = torch.zeros_like(k_pending)
            state.update(k_past=state["k_past"] + k_pending, v_past=state["v_past"] + v_pending,
                         k_pending=zero, v_pending=zero, k_chunk=k_chunk[:, :, :0], v_chunk=v_chunk[:, :, :0])
        return y, state

    def dense_reference(self, x: torch.Tensor) -> torch.Tensor:
        """Causal variant, query by query with explicit past projections. For tests: O(L²·r)."""
        assert self.causal, "the reference is for the causal variant"
        B, L, D = x.shape
        q, k, v = self.proj.qkv(x)
        c = self.chunk_size
        outs = []
        for t in range(L):
            start = (t // c) * c  # first position of t's chunk
            E, Fv = self.key_compress[:, :start], self.value_compress[:, :start]
            keys, values = k[:, :, start:t + 1], v[:, :, start:t + 1]
            if start > 0:
                keys = torch.cat([torch.einsum("rl,bhld->bhrd", E, k[:, :, :start]), keys], dim=2)
                values = torch.cat([torch.einsum("rl,bhld->bhrd", Fv, v[:, :, :start]), values], dim=2)
            outs.append(F.scaled_dot_product_attention(q[:, :, t:t + 1], keys, values))
        return self.proj.out(torch.cat(outs, dim=2))


def linformer_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    r, H = p["proj_len"], p["heads"]
    params = multi_head_params(d_model, H, H, False) + 2 * r * seq_len  # E, F have max_seq_len columns
    c = min(p["chunk_size"], seq_len)
    if p["causal"]:
        keys = r + causal_keys_per_query(c)
        scores = H * seq_len * (r + c)
    else:
        keys, scores = r, H * seq_len * r
    # projecting keys and values along the length: 2 matrices x r multiply-adds per token per channel
    macs = 4 * d_model * d_model + 2 * r * d_model
    return make_cost(params, macs, d_model, H, seq_len, keys, kept_per_token=5 * d_model, scores_kept=scores)


def linformer_state(d_model: int, seq_len: int, p: dict) -> float:
    if not p["causal"]:  # no step form: a decoder recomputes the projection over every past key and value
        return kv_cache_bytes(seq_len, d_model)
    # Projections of the completed chunks and of the current one (keys and values, proj_len slots
    # each), plus the current chunk's raw keys and values (at most chunk_size - 1 between tokens).
    projections = float(BYTES_PER_FLOAT * 4 * p["proj_len"] * d_model)
    return projections + kv_cache_bytes(min(seq_len, p["chunk_size"] - 1), d_model)


def linformer_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, rope_needed=False)
    if p["proj_len"] > max_seq_len:
        yield "proj_len", f"proj_len ({p['proj_len']}) must be <= max_seq_len ({max_seq_len})"
    if p["chunk_size"] > max_seq_len:
        yield "chunk_size", f"chunk_size ({p['chunk_size']}) must be <= max_seq_len ({max_seq_len})"


register(BlockType(
    name="linformer_attention",
    family="attention",
    title="Linformer attention",
    description="Keys/values projected along the length to proj_len slots; causal variant compresses completed "
                "past chunks and attends exactly inside the current chunk.",
    paper="Wang et al. 2020, Linformer: Self-Attention with Linear Complexity",
    params=(
        HEADS_PARAM,
        Param("proj_len", "int", 8, "k: length the keys and values are projected to. Left out: "
              "max_seq_len / 4 between 8 and 128 (the paper's 128 at n = 512; 128-256 beyond).", min=1,
              max=4096, context_default=linformer_proj_len_default, paper_value="128-256"),
        Param("causal", "bool", True, "Causal chunked variant (for language modelling); false = the paper's "
              "bidirectional form, which sees future tokens."),
        Param("chunk_size", "int", 8, "Causal variant: tokens attended exactly; earlier chunks are compressed.",
              min=1, max=4096),
    ),
    build=LinformerAttention,
    cost=linformer_cost,
    state=linformer_state,
    complexity="O(L·k)",
    causal=lambda p: bool(p["causal"]),
    recurrent=True,  # the causal variant; the bidirectional one refuses init_state
    check=linformer_check,
    tags=("low-rank",),
))


# ----------------------------------------------------------------------------- linear attentions

class LinearAttentionBase(nn.Module):
    """q, k, v, o projections around causal normalised linear attention with feature map ``features``."""

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        assert d_model % heads == 0, f"heads ({heads}) must divide d_model ({d_model})"
        self.heads, self.head_dim = heads, d_model // heads
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.k_proj = nn.Linear(d_model, d_model, bias=False)
        self.v_proj = nn.Linear(d_model, d_model, bias=False)
        self.out_proj = nn.Linear(d_model, d_model, bias=False)

    def features(self, x: torch.Tensor, is_query: bool) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self._qkv(x)  # (B, L, H, m), (B, L, H, m), (B, L, H, hd)
        # Feature maps and prefix sums run in float32 even under bf16 autocast: exp features
        # and sums over the whole prefix lose too much in 8 bits of mantissa.
        with torch.autocast(device_type=x.device.type, enabled=False):
            y = linear_attention(q.float(), k.float(), v.float(), scale=1.0, normalize=True)  # (B, L, H, hd)
        return self.out_proj(y.to(x.dtype).flatten(-2))

    def _qkv(self, x: torch.Tensor):
        """x (..., D) -> phi(q), phi(k) (..., H, m), v (..., H, hd); the features in float32."""
        shape = x.shape[:-1] + (self.heads, self.head_dim)
        q, k, v = (p(x).view(shape) for p in (self.q_proj, self.k_proj, self.v_proj))
        with torch.autocast(device_type=x.device.type, enabled=False):
            return self.features(q.float(), True), self.features(k.float(), False), v

    def init_state(self, batch_size: int, device=None, dtype=None):
        """None: the op's step starts from the empty (all-zero) float32 state."""
        return None

    def step(self, x_t: torch.Tensor, state):
        q, k, v = self._qkv(x_t)  # (B, H, m), (B, H, m), (B, H, hd)
        with torch.autocast(device_type=x_t.device.type, enabled=False):
            y, state = linear_attention_step(q, k, v.float(), state, scale=1.0, normalize=True)
        return self.out_proj(y.to(x_t.dtype).flatten(-2)), state


class LinearAttention(LinearAttentionBase):
    """Katharopoulos et al.: phi(x) = elu(x) + 1, causal prefix sums, normalised."""

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, heads: int = 4):
        super().__init__(d_model, heads)

    def features(self, x, is_query):
        return F.elu(x) + 1


def orthogonal_random_features(nb_features: int, dim: int, generator: torch.Generator) -> torch.Tensor:
    """(nb_features, dim) Gaussian rows made orthogonal in blocks of dim, rescaled to Gaussian norms (FAVOR+)."""
    blocks = []
    for _ in range(-(-nb_features // dim)):
        q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator))
        # Fixing the signs by diag(R) makes Q uniformly (Haar) distributed; without it the
        # rows are not uniform on the sphere and the kernel estimate is biased.
        blocks.append((q * torch.sign(torch.diagonal(r))).T)
    directions = torch.cat(blocks)[:nb_features]
    norms = torch.randn(nb_features, dim, generator=generator).norm(dim=1, keepdim=True)
    return directions * norms


class PerformerAttention(LinearAttentionBase):
    """FAVOR+: positive orthogonal random features approximating the softmax kernel.

    phi(x) = exp(w·x − |x|²/2) / sqrt(m) with x scaled by head_dim^-1/4 so that
    E[phi(q)·phi(k)] = exp(q·k / sqrt(head_dim)). Queries subtract their own max exponent
    (it cancels in the normalisation); keys are not shifted, because a shift shared across
    positions would have to look at the future. The exponent is bounded above by |w|²/2.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 heads: int = 4, nb_features: int = 64):
        super().__init__(d_model, heads)
        assert nb_features >= 1, f"nb_features must be >= 1, got {nb_features}"
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer("projection", orthogonal_random_features(nb_features, self.head_dim, generator))

    def features(self, x, is_query):
        x = x * self.head_dim ** -0.25
        projection = self.projection.to(x.dtype)
        exponent = x @ projection.T - x.square().sum(-1, keepdim=True) / 2  # (..., m)
        if is_query:
            exponent = exponent - exponent.amax(-1, keepdim=True).detach()
        return exponent.exp() * self.projection.shape[0] ** -0.5


def linear_family_cost(d_model: int, seq_len: int, heads: int, feature_dim: int, feature_macs: int) -> Cost:
    """Projections, feature maps, and per token the state update and read (m x hd per head, twice)."""
    hd = d_model // heads
    state_macs = 2 * heads * feature_dim * hd + 2 * heads * feature_dim  # kv state and normaliser
    return Cost(
        params=4 * d_model * d_model,
        flops_per_token=2.0 * (4 * d_model * d_model + feature_macs + state_macs),
        # kept: input, q, k, v, features of q and k, output; chunk scores of the op (C = 64)
        activation_bytes=float(BYTES_PER_FLOAT * seq_len * (5 * d_model + 2 * heads * feature_dim
                                                             + heads * min(seq_len, 64))),
    )


def linear_family_state(d_model: int, heads: int, feature_dim: int) -> float:
    """Fixed whatever the length: per head the sum of phi(k) v^T (m x hd) and the normaliser sum of phi(k) (m)."""
    return float(BYTES_PER_FLOAT * heads * feature_dim * (d_model // heads + 1))


def linear_attention_state(d_model: int, seq_len: int, p: dict) -> float:
    return linear_family_state(d_model, p["heads"], d_model // p["heads"])


def performer_state(d_model: int, seq_len: int, p: dict) -> float:
    return linear_family_state(d_model, p["heads"], p["nb_features"])


def linear_attention_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    return linear_family_cost(d_model, seq_len, p["heads"], d_model // p["heads"], feature_macs=0)


def performer_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    m = p["nb_features"]
    return linear_family_cost(d_model, seq_len, p["heads"], m, feature_macs=2 * m * d_model)


def linear_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, rope_needed=False)


register(BlockType(
    name="linear_attention",
    family="attention",
    title="Linear attention",
    description="Causal linear attention with feature map elu(x)+1: prefix sums instead of softmax, "
                "O(1) state per step.",
    paper="Katharopoulos et al. 2020, Transformers are RNNs: Fast Autoregressive Transformers with Linear Attention",
    params=(HEADS_PARAM,),
    build=LinearAttention,
    cost=linear_attention_cost,
    state=linear_attention_state,
    complexity="O(L)",
    causal=True,
    recurrent=True,
    check=linear_check,
    tags=("linear", "kernel"),
))

register(BlockType(
    name="performer_attention",
    family="attention",
    title="Performer (FAVOR+)",
    description="Causal softmax-kernel approximation with positive orthogonal random features, via prefix sums.",
    paper="Choromanski et al. 2021, Rethinking Attention with Performers",
    params=(
        HEADS_PARAM,
        Param("nb_features", "int", 64, "Random features m per head (fixed per model by its seed). Left out: "
              "int(head_dim * ln head_dim), FastAttention's default.", min=1, max=4096,
              context_default=performer_features_default, paper_value="head_dim * ln(head_dim)"),
    ),
    build=PerformerAttention,
    cost=performer_cost,
    state=performer_state,
    complexity="O(L)",
    causal=True,
    recurrent=True,
    check=linear_check,
    tags=("linear", "kernel", "random"),
))


# ----------------------------------------------------------------------------- FNet

class FNetMixing(nn.Module):
    """FNet: the real part of the 2-D Fourier transform over sequence and hidden. No parameters.

    Every output mixes every position, future ones included: it is not causal.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0):
        super().__init__()
        self.d_model = d_model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-1] == self.d_model, f"expected last dim {self.d_model}, got {tuple(x.shape)}"
        # FFT in float32 at least: half-precision FFTs need power-of-two sizes.
        return torch.fft.fft2(x.float(), dim=(-2, -1)).real.to(x.dtype)


def fnet_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    # A complex FFT of size n costs about 5·n·log2(n) flops; per token one FFT over D and
    # (amortised) one over L per channel.
    flops = 5.0 * d_model * (math.log2(max(d_model, 2)) + math.log2(max(seq_len, 2)))
    return Cost(0, flops, float(BYTES_PER_FLOAT * seq_len * d_model * 2))  # complex intermediate


def fnet_state(d_model: int, seq_len: int, p: dict) -> float:
    # No step form: every output mixes the whole sequence, so a decoder keeps every input.
    return float(BYTES_PER_FLOAT * seq_len * d_model)


def fnet_check(d_model: int, max_seq_len: int, p: dict):
    # No parameters; non-causality is the validator's business (model.allow_noncausal).
    return []


register(BlockType(
    name="fnet",
    family="attention",
    title="FNet Fourier mixing",
    description="Parameter-free token mixing by the real part of a 2-D FFT. NOT causal: it sees future tokens, so a "
                "causal language model refuses it unless the model allows non-causal blocks.",
    paper="Lee-Thorp et al. 2022, FNet: Mixing Tokens with Fourier Transforms",
    params=(),
    build=FNetMixing,
    cost=fnet_cost,
    state=fnet_state,
    complexity="O(L log L)",
    causal=False,
    check=fnet_check,
    tags=("fourier", "non-causal", "parameter-free"),
))
