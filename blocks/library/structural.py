"""Structural blocks: `input` (token embedding), `output` (final norm + LM head), `merge`,
`repeat` and an explicit `norm`.

These shape the graph rather than mix tokens. Their costs cover only what depends on
d_model and their own params; the parts that depend on the vocabulary or on the whole
model (token embedding, LM head, the final norm's kind, a repeat's body) are added by
``blocks.spec``, which knows the spec. The compiler (``blocks.compiler``) builds
`input`, `output` and `repeat` itself because they need the vocabulary or a sub-graph;
`merge` and `norm` have ordinary ``build`` functions.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from blocks.registry import ZERO_COST, BlockType, Cost, Param, register

BYTES_PER_FLOAT = 4
NORM_KINDS = ("rmsnorm", "layernorm")
MERGE_MODES = ("sum", "mean", "gated", "concat")
POSITION_KINDS = ("none", "learned")
# Merge's builder and cost receive the in-degree under this key; blocks.spec supplies it
# from the edges, so it is not a user-facing param.
MERGE_INPUTS_KEY = "num_inputs"


def make_norm(kind: str, d_model: int) -> nn.Module:
    """The model's normalisation layer: RMSNorm (weight only) or LayerNorm (weight and bias)."""
    assert kind in NORM_KINDS, f"norm must be one of {NORM_KINDS}, got {kind!r}"
    return nn.RMSNorm(d_model, eps=1e-5) if kind == "rmsnorm" else nn.LayerNorm(d_model, eps=1e-5)


def norm_param_count(kind: str, d_model: int) -> int:
    return d_model if kind == "rmsnorm" else 2 * d_model


NORM_FLOPS_PER_FEATURE = 5  # square, mean, rsqrt-scale, weight (and bias): a few ops per feature


class TokenEmbedding(nn.Module):
    """tokens (B, L) int64 -> (B, L, D): token embedding plus optional learned absolute positions."""

    def __init__(self, vocab_size: int, d_model: int, max_seq_len: int, positions: str = "none"):
        super().__init__()
        assert positions in POSITION_KINDS, f"positions must be one of {POSITION_KINDS}, got {positions!r}"
        self.tokens = nn.Embedding(vocab_size, d_model)
        self.positions = nn.Embedding(max_seq_len, d_model) if positions == "learned" else None
        self.max_seq_len = max_seq_len
        # GPT-2's small init: with tied embeddings N(0, 1) would start the logits far too large.
        nn.init.normal_(self.tokens.weight, std=0.02)
        if self.positions is not None:
            nn.init.normal_(self.positions.weight, std=0.02)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.tokens(tokens)  # (B, L, D)
        if self.positions is not None:
            length = tokens.shape[1]
            assert length <= self.max_seq_len, f"sequence length {length} > max_seq_len {self.max_seq_len}"
            x = x + self.positions(torch.arange(length, device=tokens.device))  # (L, D) broadcast
        return x

    def init_state(self, batch_size: int, device=None, dtype=None):
        return 0  # the position of the next token

    def step(self, token_t: torch.Tensor, position: int):
        """token_t (B,) -> ((B, D), position + 1)."""
        x = self.tokens(token_t)
        if self.positions is not None:
            assert position < self.max_seq_len, f"position {position} >= max_seq_len {self.max_seq_len}"
            x = x + self.positions.weight[position]
        return x, position + 1


class OutputHead(nn.Module):
    """(B, L, D) -> logits (B, L, vocab): final norm then the LM head, optionally tied to the embedding."""

    def __init__(self, d_model: int, vocab_size: int, norm: str, tied_embedding: nn.Embedding | None = None):
        super().__init__()
        self.norm = make_norm(norm, d_model)
        self.lm_head = nn.Linear(d_model, vocab_size, bias=False)
        if tied_embedding is not None:
            assert tied_embedding.weight.shape == self.lm_head.weight.shape, "tied shapes differ"
            self.lm_head.weight = tied_embedding.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lm_head(self.norm(x))


class Merge(nn.Module):
    """Combine k inputs (each (B, L, D)) into one.

    sum, mean: parameter-free. gated: a softmax over the k inputs per token, computed by a
    linear map of their concatenation. concat: concatenate then project back to D.
    Everything is per position, so a merge is causal and also works on (B, D) steps.
    """

    def __init__(self, d_model: int, mode: str, num_inputs: int):
        super().__init__()
        assert mode in MERGE_MODES, f"mode must be one of {MERGE_MODES}, got {mode!r}"
        assert num_inputs >= 1, f"a merge needs at least one input, got {num_inputs}"
        self.mode = mode
        self.num_inputs = num_inputs
        self.proj = None
        if mode == "gated":
            self.proj = nn.Linear(num_inputs * d_model, num_inputs)
        elif mode == "concat":
            self.proj = nn.Linear(num_inputs * d_model, d_model)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        assert len(inputs) == self.num_inputs, f"expected {self.num_inputs} inputs, got {len(inputs)}"
        if self.mode == "sum":
            return torch.stack(inputs).sum(0)
        if self.mode == "mean":
            return torch.stack(inputs).mean(0)
        joined = torch.cat(inputs, dim=-1)  # (..., k*D)
        if self.mode == "concat":
            return self.proj(joined)
        gates = F.softmax(self.proj(joined), dim=-1)  # (..., k)
        return (torch.stack(inputs, dim=-1) * gates.unsqueeze(-2)).sum(-1)  # (..., D)


class Repeat(nn.Module):
    """A sub-graph stacked `times` times, each repetition with its own weights."""

    def __init__(self, layers: list[nn.Module]):
        super().__init__()
        self.layers = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


# ---- registry entries -------------------------------------------------------------------


def _input_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    # seq_len is max_seq_len when blocks.spec counts parameters: the position table's size.
    positions = seq_len * d_model if params.get("positions") == "learned" else 0
    return Cost(positions, float(d_model if positions else 0), float(seq_len * d_model * BYTES_PER_FLOAT))


def _merge_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    k = int(params.get(MERGE_INPUTS_KEY, 2))
    mode = params["mode"]
    if mode == "gated":
        n_params, flops = k * d_model * k + k, 2.0 * k * d_model * k + 3.0 * k * d_model
    elif mode == "concat":
        n_params, flops = k * d_model * d_model + d_model, 2.0 * k * d_model * d_model
    else:
        n_params, flops = 0, float(k * d_model)
    kept = (k + 1) * d_model if mode in ("gated", "concat") else d_model
    return Cost(n_params, flops, float(seq_len * kept * BYTES_PER_FLOAT))


def _norm_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    return Cost(
        norm_param_count(params["kind"], d_model),
        float(NORM_FLOPS_PER_FEATURE * d_model),
        float(seq_len * d_model * BYTES_PER_FLOAT),
    )


def _build_merge(d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, **params) -> Merge:
    return Merge(d_model, params["mode"], int(params.get(MERGE_INPUTS_KEY, 2)))


def _build_norm(d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, **params) -> nn.Module:
    return make_norm(params["kind"], d_model)


def _no_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    return ZERO_COST


register(
    BlockType(
        name="input",
        family="structural",
        title="Input (token embedding)",
        description="Token embedding, plus learned absolute positions when asked; the graph's single source.",
        paper="Vaswani et al. 2017, Attention Is All You Need (learned positions: Radford et al. 2019, GPT-2)",
        params=(
            Param("positions", "choice", "none", "Add a learned absolute position embedding.",
                  choices=POSITION_KINDS),
        ),
        build=None,
        cost=_input_cost,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        residual=False,
        structural=True,
        tags=("embedding",),
    )
)

register(
    BlockType(
        name="output",
        family="structural",
        title="Output (norm + LM head)",
        description="Final norm and the language-model head (tied to the embedding if the model says so).",
        paper="Press & Wolf 2017, Using the Output Embedding to Improve Language Models",
        params=(),
        build=None,
        cost=_no_cost,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        residual=False,
        structural=True,
        tags=("head",),
    )
)

register(
    BlockType(
        name="merge",
        family="structural",
        title="Merge",
        description="Where several edges meet: sum, mean, softmax-gated sum, or concatenate-then-project.",
        paper="Hybrid layouts as in Lieber et al. 2024, Jamba; Dong et al. 2024, Hymba (parallel heads)",
        params=(
            Param("mode", "choice", "sum", "How the inputs are combined.", choices=MERGE_MODES),
        ),
        build=_build_merge,
        cost=_merge_cost,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        residual=False,
        structural=True,
        tags=("combine",),
    )
)

register(
    BlockType(
        name="repeat",
        family="structural",
        title="Repeat",
        description="A sub-graph (its children) stacked N times, each repetition with independent weights.",
        paper="Vaswani et al. 2017 (a stack of identical layers)",
        params=(
            Param("times", "int", 2, "How many times the sub-graph is stacked.", min=1, max=64),
        ),
        build=None,
        cost=_no_cost,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        residual=False,
        structural=True,
        tags=("group",),
    )
)

register(
    BlockType(
        name="norm",
        family="structural",
        title="Norm",
        description="An explicit normalisation layer (blocks are already pre-normed; use for post-norm designs).",
        paper="Zhang & Sennrich 2019, Root Mean Square Layer Normalization; Ba et al. 2016, Layer Normalization",
        params=(
            Param("kind", "choice", "rmsnorm", "RMSNorm or LayerNorm.", choices=NORM_KINDS),
        ),
        build=_build_norm,
        cost=_norm_cost,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        residual=False,
        structural=True,
        tags=("norm",),
    )
)
