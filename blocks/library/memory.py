"""Blocks of the memory family: persistent memory tokens, Transformer-XL segment recurrence,
and a content-addressed key-value memory read head.

Like the attention blocks, each is the mixer only (the compiler adds pre-norm and residual),
built from the same multi-head projections, and each has a step form that reproduces
``forward`` token by token.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.attention import (
    BYTES_PER_FLOAT,
    HEADS_PARAM,
    MultiHeadProjections,
    blocked_attention,
    causal_keys_per_query,
    heads_check,
    kv_cache_bytes,
    make_cost,
    merge_heads,
    multi_head_params,
    rope,
    split_heads,
)
from blocks.optim import hint
from blocks.registry import BlockType, Cost, Param, register

POSITION_PARAM = Param("position", "choice", "rope", "Position code: rotary (RoPE, relative) or none.",
                       choices=("rope", "none"))


# ----------------------------------------------------------------------------- memory tokens

class MemoryTokenAttention(nn.Module):
    """Causal attention whose keys/values are prefixed by ``num_tokens`` learned memory slots.

    Each head owns learned key and value vectors (the "persistent memory" of Sukhbaatar et
    al.); every position can read them, and among the real tokens attention stays causal.
    The memory has no position: RoPE rotates only real queries and keys.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 heads: int = 4, num_tokens: int = 8, position: str = "rope"):
        super().__init__()
        assert num_tokens >= 1, f"num_tokens must be >= 1, got {num_tokens}"
        assert position in ("rope", "none"), f"position must be rope or none, got {position!r}"
        self.position = position
        self.proj = MultiHeadProjections(d_model, heads)
        H, hd = self.proj.heads, self.proj.head_dim
        assert position != "rope" or hd % 2 == 0, "rope needs an even head size"
        self.memory_keys = nn.Parameter(torch.randn(H, num_tokens, hd) * hd ** -0.5)
        self.memory_values = nn.Parameter(torch.randn(H, num_tokens, hd) * hd ** -0.5)
        hint(self.memory_keys, self.memory_values)  # learned tokens: embeddings, not decayed

    def _project(self, x: torch.Tensor, positions: torch.Tensor):
        q, k, v = self.proj.qkv(x)  # (B, H, L, hd)
        if self.position == "rope":
            q, k = rope(q, positions), rope(k, positions)
        return q, k, v

    def _with_memory(self, t: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Prepend the (H, n, hd) memory to t (B, H, L, hd)."""
        return torch.cat([memory.unsqueeze(0).expand(t.shape[0], -1, -1, -1), t], dim=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        L = x.shape[1]
        q, k, v = self._project(x, torch.arange(L, device=x.device))
        n = self.memory_keys.shape[1]
        mask = torch.cat([torch.ones(L, n, dtype=torch.bool, device=x.device),
                          torch.ones(L, L, dtype=torch.bool, device=x.device).tril()], dim=1)  # (L, n + L)
        y = F.scaled_dot_product_attention(q, self._with_memory(k, self.memory_keys),
                                           self._with_memory(v, self.memory_values), attn_mask=mask)
        return self.proj.out(y)

    def init_state(self, batch_size: int, device=None, dtype=None) -> dict:
        """KV cache of the real tokens (the memory is read from the parameters each step)."""
        empty = torch.zeros(batch_size, self.proj.heads, 0, self.proj.head_dim, device=device, dtype=dtype)
        return {"k": empty, "v": empty.clone(), "pos": 0}

    def step(self, x_t: torch.Tensor, state: dict):
        q, k, v = self._project(x_t.unsqueeze(1), torch.tensor([state["pos"]], device=x_t.device))
        k_all, v_all = torch.cat([state["k"], k], dim=2), torch.cat([state["v"], v], dim=2)
        y = F.scaled_dot_product_attention(q, self._with_memory(k_all, self.memory_keys),
                                           self._with_memory(v_all, self.memory_values))
        return self.proj.out(y).squeeze(1), {"k": k_all, "v": v_all, "pos": state["pos"] + 1}


def memory_tokens_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    H, n = p["heads"], p["num_tokens"]
    keys = n + causal_keys_per_query(seq_len)
    return make_cost(multi_head_params(d_model, H, H, False) + 2 * n * d_model, 4 * d_model * d_model,
                     d_model, H, seq_len, keys, kept_per_token=5 * d_model, scores_kept=H * seq_len * (n + seq_len))


def memory_tokens_state(d_model: int, seq_len: int, p: dict) -> float:
    # The KV cache of the real tokens; the memory slots are parameters, read each step.
    return kv_cache_bytes(seq_len, d_model)


def memory_tokens_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, p["position"] == "rope")


register(BlockType(
    name="memory_tokens",
    family="memory",
    title="Memory tokens",
    description="Causal attention with learned memory key/value slots that every position can read.",
    paper="Sukhbaatar et al. 2019, Augmenting Self-attention with Persistent Memory; "
          "Burtsev et al. 2020, Memory Transformer",
    params=(
        HEADS_PARAM,
        Param("num_tokens", "int", 8, "Learned memory slots per head, visible to every position.", min=1, max=4096),
        POSITION_PARAM,
    ),
    build=MemoryTokenAttention,
    cost=memory_tokens_cost,
    state=memory_tokens_state,
    complexity="O(L^2)",
    causal=True,
    recurrent=True,
    check=memory_tokens_check,
    tags=("softmax", "memory", "kv-cache"),
))


# ----------------------------------------------------------------------------- Transformer-XL

class SegmentRecurrentAttention(nn.Module):
    """Transformer-XL segment recurrence within one sequence.

    The sequence is cut into segments of ``segment_len``. Segment n attends to the cached
    hidden states (this layer's inputs) of segment n−1, with gradients stopped as in the
    paper, plus itself under the lower-right causal mask: token i of the segment sees the
    whole previous segment and positions <= i of its own. Keys and values of the cache are
    made by this layer's projections from the cached inputs. Relative positions: we use
    RoPE on absolute positions (q·k then depends only on the offset) instead of the paper's
    learned r/u/v relative terms; ``position=none`` turns it off.
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 heads: int = 4, segment_len: int = 8, position: str = "rope"):
        super().__init__()
        assert 1 <= segment_len <= max_seq_len, f"segment_len must be in [1, {max_seq_len}], got {segment_len}"
        assert position in ("rope", "none"), f"position must be rope or none, got {position!r}"
        self.segment_len, self.position = segment_len, position
        self.proj = MultiHeadProjections(d_model, heads)
        assert position != "rope" or self.proj.head_dim % 2 == 0, "rope needs an even head size"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, L, D = x.shape
        s, H = self.segment_len, self.proj.heads
        N = -(-L // s)
        segments = F.pad(x, (0, 0, 0, N * s - L)).view(B, N, s, D)
        cached = F.pad(segments, (0, 0, 0, 0, 1, 0))[:, :-1].detach()  # (B, N, s, D): segment n−1, stop-grad
        q = self.proj.q_proj(segments).view(B, N, s, H, -1).permute(0, 3, 1, 2, 4)  # (B, H, N, s, hd)
        kv = self.proj.kv_proj(torch.cat([cached, segments], dim=2))  # (B, N, 2s, 2D)
        k, v = (t.view(B, N, 2 * s, H, -1).permute(0, 3, 1, 2, 4) for t in kv.chunk(2, dim=-1))  # (B, H, N, 2s, hd)
        if self.position == "rope":
            n = torch.arange(N, device=x.device).unsqueeze(1)
            q = rope(q, n * s + torch.arange(s, device=x.device))  # positions (N, s)
            k = rope(k, (n - 1) * s + torch.arange(2 * s, device=x.device))  # positions (N, 2s)
        has_cache = (torch.arange(N, device=x.device) > 0).view(N, 1, 1).expand(N, s, s)
        own = torch.ones(s, s, dtype=torch.bool, device=x.device).tril().expand(N, s, s)
        mask = torch.cat([has_cache, own], dim=-1)  # (N, s, 2s): lower-right causal
        y = blocked_attention(q, k, v, mask)  # (B, H, N, s, hd)
        return self.proj.out(y.reshape(B, H, N * s, -1)[:, :, :L])

    def init_state(self, batch_size: int, device=None, dtype=None) -> dict:
        """Inputs of the previous complete segment, inputs of the current one so far, next position."""
        empty = torch.zeros(batch_size, 0, self.proj.q_proj.in_features, device=device, dtype=dtype)
        return {"cached": empty, "current": empty.clone(), "pos": 0}

    def step(self, x_t: torch.Tensor, state: dict):
        pos = state["pos"]
        current = torch.cat([state["current"], x_t.unsqueeze(1)], dim=1)  # (B, j + 1, D)
        context = torch.cat([state["cached"], current], dim=1)  # (B, c, D)
        q = split_heads(self.proj.q_proj(x_t.unsqueeze(1)), self.proj.heads)  # (B, H, 1, hd)
        k, v = (split_heads(t, self.proj.heads) for t in self.proj.kv_proj(context).chunk(2, dim=-1))
        if self.position == "rope":
            q = rope(q, torch.tensor([pos], device=x_t.device))
            k = rope(k, torch.arange(pos + 1 - context.shape[1], pos + 1, device=x_t.device))
        y = self.proj.out(F.scaled_dot_product_attention(q, k, v)).squeeze(1)
        if current.shape[1] == self.segment_len:  # segment complete: it becomes the cache
            state = {"cached": current.detach(), "current": current[:, :0], "pos": pos + 1}
        else:
            state = {"cached": state["cached"], "current": current, "pos": pos + 1}
        return y, state


def segment_recurrence_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    H, s = p["heads"], min(p["segment_len"], seq_len)
    # keys and values are projected twice per token: once as current, once as cache
    macs = 2 * d_model * d_model + 2 * (2 * d_model * d_model)
    return make_cost(multi_head_params(d_model, H, H, False), macs, d_model, H, seq_len, s + causal_keys_per_query(s),
                     kept_per_token=7 * d_model, scores_kept=H * seq_len * 2 * s)


def segment_recurrence_state(d_model: int, seq_len: int, p: dict) -> float:
    # Inputs of the previous complete segment (s) and of the current one (up to s - 1) between tokens.
    return float(BYTES_PER_FLOAT * min(seq_len, 2 * p["segment_len"] - 1) * d_model)


def segment_recurrence_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, p["position"] == "rope")
    if p["segment_len"] > max_seq_len:
        yield "segment_len", f"segment_len ({p['segment_len']}) must be <= max_seq_len ({max_seq_len})"


register(BlockType(
    name="segment_recurrence",
    family="memory",
    title="Segment recurrence (Transformer-XL)",
    description="Each segment attends to itself causally and to the stop-gradient cached states of the "
                "previous segment.",
    paper="Dai et al. 2019, Transformer-XL: Attentive Language Models Beyond a Fixed-Length Context",
    params=(
        HEADS_PARAM,
        Param("segment_len", "int", 8, "Tokens per segment; each token sees between segment_len and "
              "2·segment_len − 1 positions.", min=1, max=65536),
        POSITION_PARAM,
    ),
    build=SegmentRecurrentAttention,
    cost=segment_recurrence_cost,
    state=segment_recurrence_state,
    complexity="O(L·s)",
    causal=True,
    recurrent=True,
    check=segment_recurrence_check,
    tags=("softmax", "memory", "segment"),
))


# ----------------------------------------------------------------------------- key-value memory

class KeyValueMemory(nn.Module):
    """A read-only head over learned key-value slots: the persistent memory vectors of
    Sukhbaatar et al. 2019's all-attention layer, attended on their own.

    Each head's query, made from the token, is compared with ``slots`` learned keys; the
    softmax weights read the learned values (the key-value read of End-To-End Memory
    Networks, with learned slots instead of a story). Nothing writes to the slots at run time
    (no NTM/DNC write or erase, only gradient updates), and it looks at no other position:
    a position-wise layer, like a feed-forward layer with a softmax over its hidden units, so
    it is causal and its step is the same computation on one token. Unlike Lample et al.
    2019's product-key memory it scores every slot densely (no product keys, no top-k).
    """

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 heads: int = 4, slots: int = 64):
        super().__init__()
        assert d_model % heads == 0, f"heads ({heads}) must divide d_model ({d_model})"
        assert slots >= 1, f"slots must be >= 1, got {slots}"
        self.heads, head_dim = heads, d_model // heads
        self.q_proj = nn.Linear(d_model, d_model, bias=False)
        self.memory_keys = nn.Parameter(torch.randn(heads, slots, head_dim) * head_dim ** -0.5)
        self.memory_values = nn.Parameter(torch.randn(heads, slots, head_dim) * head_dim ** -0.5)
        hint(self.memory_keys, self.memory_values)  # slots are looked up like embeddings (PKM): not decayed
        self.out_proj = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = split_heads(self.q_proj(x), self.heads)  # (B, H, L, hd)
        weights = (q @ self.memory_keys.transpose(-1, -2) * q.shape[-1] ** -0.5).softmax(-1)  # (B, H, L, slots)
        return self.out_proj(merge_heads(weights @ self.memory_values))  # (B, L, D)

    def init_state(self, batch_size: int, device=None, dtype=None):
        """The read depends on the current token only: no state."""
        return None

    def step(self, x_t: torch.Tensor, state=None):
        return self.forward(x_t.unsqueeze(1)).squeeze(1), state


def kv_memory_cost(d_model: int, seq_len: int, p: dict) -> Cost:
    m, H = p["slots"], p["heads"]
    return Cost(
        params=2 * d_model * d_model + 2 * m * d_model,
        flops_per_token=2.0 * (2 * d_model * d_model + 2 * m * d_model) + 5 * H * m,
        activation_bytes=float(BYTES_PER_FLOAT * seq_len * (3 * d_model + 2 * H * m)),  # x, q, read; logits, weights
    )


def kv_memory_check(d_model: int, max_seq_len: int, p: dict):
    yield from heads_check(d_model, p, rope_needed=False)


register(BlockType(
    name="kv_memory",
    family="memory",
    title="Persistent key-value memory (read-only)",
    description="Each token's multi-head query reads a set of learned key-value slots: softmax over the slot "
    "keys, weighted sum of the slot values. The slots are parameters (persistent memory, as the "
    "all-attention layer's persistent vectors without the context keys): read-only at run time, "
    "position-wise, no state. Not a writable NTM/DNC memory; dense, not product-key top-k.",
    paper="Sukhbaatar et al. 2019, Augmenting Self-attention with Persistent Memory, arXiv:1907.01470 "
    "(persistent vectors); key-value read as in Sukhbaatar et al. 2015, End-To-End Memory Networks",
    params=(
        HEADS_PARAM,
        Param("slots", "int", 64, "Memory slots per head (learned key and value each).", min=1, max=65536),
    ),
    build=KeyValueMemory,
    cost=kv_memory_cost,
    complexity="O(L)",
    causal=True,
    recurrent=True,
    check=kv_memory_check,
    tags=("memory", "per-token"),
))
