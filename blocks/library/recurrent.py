"""Blocks of the recurrent family: RetNet multi-scale retention and RWKV-4 (time-mix + channel-mix).

RetNet is the mixer only (the compiler adds the pre-norm and the residual); RWKV is a whole
RWKV-4 layer with both of its residual branches. Forward maps (batch, length, d_model) to the
same shape, and ``init_state`` / ``step`` run the same computation one token at a time.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.ssm import seeded_init
from blocks.ops.retention import retention, retention_chunkwise, retention_init_state, retention_step
from blocks.registry import BlockType, Cost, Param, register

FLOAT_BYTES = 4


# --------------------------------------------------------------------------- RetNet


def _rotate_every_two(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...) along the last dimension."""
    return torch.stack((-x[..., 1::2], x[..., ::2]), dim=-1).flatten(-2)


class RetNet(nn.Module):
    """Multi-scale retention (Sun et al. 2023), as torchscale's MultiScaleRetention.

    q, k (rotary) and v per head -> retention (head h decays with 1 - 2^(-5-h)) -> per-head
    group norm -> swish(g) gate -> out_proj. Sequences up to ``chunk_size`` use the parallel
    form, longer ones the chunkwise form; ``step`` is the recurrent form.
    """

    def __init__(
        self,
        d_model: int,
        *,
        max_seq_len: int,
        layer_idx: int = 0,
        seed: int = 0,
        heads: int = 4,
        value_factor: int = 2,
        rotary: bool = True,
        chunk_size: int = 64,
    ):
        super().__init__()
        assert d_model % heads == 0, f"heads ({heads}) must divide d_model ({d_model})"
        self.heads, self.key_dim = heads, d_model // heads
        assert not rotary or self.key_dim % 2 == 0, "rotary needs an even key dim (d_model / heads)"
        assert chunk_size >= 1, "chunk_size must be positive"
        self.rotary, self.chunk_size = rotary, chunk_size
        self.value_width = value_factor * d_model
        self.value_dim = self.value_width // heads
        with seeded_init(seed):
            self.q_proj = nn.Linear(d_model, d_model, bias=False)
            self.k_proj = nn.Linear(d_model, d_model, bias=False)
            self.v_proj = nn.Linear(d_model, self.value_width, bias=False)
            self.g_proj = nn.Linear(d_model, self.value_width, bias=False)
            self.out_proj = nn.Linear(self.value_width, d_model, bias=False)
        self.norm_weight = nn.Parameter(torch.ones(self.value_width))  # group norm affine
        self.norm_bias = nn.Parameter(torch.zeros(self.value_width))
        frequencies = 1.0 / 10000 ** torch.linspace(0, 1, self.key_dim // 2)
        self.register_buffer("frequencies", frequencies.repeat_interleave(2), persistent=False)  # (dk,)

    def _rotate(self, x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
        """Rotary position on x (..., L, H, dk) at positions (L,)."""
        if not self.rotary:
            return x
        angle = positions.to(x.dtype)[:, None] * self.frequencies  # (L, dk)
        sin, cos = angle.sin()[:, None, :], angle.cos()[:, None, :]  # (L, 1, dk)
        return x * cos + _rotate_every_two(x) * sin

    def _heads(self, x: torch.Tensor, width: int) -> torch.Tensor:
        return x.view(*x.shape[:-1], self.heads, width)

    def _output(self, x: torch.Tensor, retained: torch.Tensor) -> torch.Tensor:
        """Group norm per head, swish gate, projection: retained (..., H, dv) -> (..., D)."""
        normed = F.layer_norm(retained, (self.value_dim,)).flatten(-2)  # (..., H * dv)
        normed = normed * self.norm_weight + self.norm_bias
        return self.out_proj(F.silu(self.g_proj(x)) * normed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[1]
        positions = torch.arange(length, device=x.device)
        q = self._rotate(self._heads(self.q_proj(x), self.key_dim), positions)  # (B, L, H, dk)
        k = self._rotate(self._heads(self.k_proj(x), self.key_dim), positions)
        v = self._heads(self.v_proj(x), self.value_dim)  # (B, L, H, dv)
        if length <= self.chunk_size:
            retained = retention(q, k, v)
        else:
            retained = retention_chunkwise(q, k, v, self.chunk_size)
        return self._output(x, retained)  # (B, L, D)

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        memory = retention_init_state(batch_size, self.heads, self.key_dim, self.value_dim, device, dtype)
        position = torch.zeros((), dtype=torch.long, device=device)
        return memory, position

    def step(self, x_t: torch.Tensor, state):
        memory, position = state
        positions = position.reshape(1)
        q = self._rotate(self._heads(self.q_proj(x_t), self.key_dim).unsqueeze(1), positions)[:, 0]
        k = self._rotate(self._heads(self.k_proj(x_t), self.key_dim).unsqueeze(1), positions)[:, 0]
        v = self._heads(self.v_proj(x_t), self.value_dim)  # (B, H, dv)
        retained, memory = retention_step(q, k, v, memory)  # (B, H, dv)
        return self._output(x_t, retained), (memory, position + 1)


def retnet_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, H = d_model, params["heads"]
    V = params["value_factor"] * d
    dk, dv = d // H, V // H
    n_params = 2 * d * d + 3 * d * V + 2 * V
    projections = 2 * (2 * d * d + 3 * d * V)
    rotary = 6 * d if params["rotary"] else 0
    window = min(seq_len, params["chunk_size"])  # tokens each query scores directly
    retention_flops = H * 2 * window * (dk + dv)  # scores + weighted values (full chunk square)
    if seq_len > params["chunk_size"]:
        retention_flops += H * 4 * dk * dv  # read the carried state and add to it
    norm_and_gate = 10 * V
    flops = projections + rotary + retention_flops + norm_and_gate
    # Kept per token: q, k, v, g, retained, normed, gated; plus the (H, T, T) score tensors.
    per_token = 2 * d + 4 * V + V + H * window * 2
    return Cost(n_params, float(flops), float(seq_len * per_token * FLOAT_BYTES))


def retnet_state(d_model: int, seq_len: int, params: dict) -> float:
    # One (key_dim x value_dim) memory per head, whatever the length (the position counter is not counted).
    heads = params["heads"]
    return float(heads * (d_model // heads) * (params["value_factor"] * d_model // heads) * FLOAT_BYTES)


def retnet_check(d_model: int, max_seq_len: int, params: dict):
    heads = params["heads"]
    if d_model % heads:
        yield "heads", f"heads ({heads}) must divide d_model ({d_model})"
    elif params["rotary"] and (d_model // heads) % 2:
        yield "rotary", f"rotary needs an even head dim; d_model / heads = {d_model // heads}"


register(
    BlockType(
        name="retnet",
        family="recurrent",
        title="RetNet retention",
        description="Multi-scale retention: causal attention with fixed per-head exponential decay, "
        "run in parallel, chunkwise or as an O(1)-state recurrence; swish gate and group norm.",
        paper="Sun et al. Retentive Network: A Successor to Transformer for Large Language Models. "
        "2023. arXiv:2307.08621",
        params=(
            Param("heads", "int", 4, "retention heads; head h decays with 1 - 2^(-5-h)", min=1, max=64),
            Param("value_factor", "int", 2, "value width = value_factor * d_model", min=1, max=4),
            Param("rotary", "bool", True, "rotary relative positions on q and k (RetNet's xPos without "
                  "its scale, which the decay already provides)"),
            Param("chunk_size", "int", 64, "longer sequences use the chunkwise form with this chunk",
                  min=1, max=4096),
        ),
        build=RetNet,
        cost=retnet_cost,
        state=retnet_state,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        check=retnet_check,
        tags=("linear-attention", "decay"),
    )
)


# --------------------------------------------------------------------------- RWKV-4

_WKV_CHUNK = 16  # positions scored together in the parallel WKV; the state hands over between chunks
_NO_HISTORY = -1e38  # log-scale of an empty WKV state (as the RWKV-4 kernels start)


def _token_shift(x: torch.Tensor) -> torch.Tensor:
    """x (B, L, D) -> the previous token at each position, zeros at t = 0."""
    return F.pad(x, (0, 0, 1, -1))


def _mix(x: torch.Tensor, previous: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
    return x * ratio + previous * (1 - ratio)


def wkv_step(decay, bonus, k_t, v_t, state):
    """One stable WKV step (RWKV-4): state (num, den, max_log), each (B, D).

    wkv_t = (sum_{i<t} e^{-(t-1-i)w + k_i} v_i + e^{u + k_t} v_t) / (same without v),
    with num = sum e^{... - max_log} v and den likewise, so no exponent is ever positive.
    """
    num, den, max_log = state
    with_current = bonus + k_t
    top = torch.maximum(max_log, with_current)
    past_scale, current_scale = torch.exp(max_log - top), torch.exp(with_current - top)
    wkv = (past_scale * num + current_scale * v_t) / (past_scale * den + current_scale)
    decayed = max_log - decay
    top = torch.maximum(decayed, k_t)
    past_scale, current_scale = torch.exp(decayed - top), torch.exp(k_t - top)
    return wkv, (past_scale * num + current_scale * v_t, past_scale * den + current_scale, top)


def wkv_chunked(decay, bonus, k, v, state, chunk_size: int = _WKV_CHUNK):
    """WKV over a whole sequence: k, v (B, L, D); decay w > 0 and bonus u (D,).

    Inside a chunk every (query j, key i <= j) pair is weighted in log space and normalised by
    the largest log weight (with the carried state as one more term); between chunks the state
    (num, den, max_log) is carried as in ``wkv_step``. Returns (wkv (B, L, D), state).
    """
    outputs = []
    # split, not a slice per chunk: each slice's backward writes a gradient as long as the whole
    # sequence, which made the backward quadratic in the length.
    for k_c, v_c in zip(k.split(chunk_size, dim=1), v.split(chunk_size, dim=1)):  # (B, T, D)
        size = k_c.shape[1]
        j = torch.arange(size, device=k.device)
        gap = (j[:, None] - 1 - j[None, :]).to(k.dtype)  # (T, T): t - 1 - i
        # log weight of key i for query j (B, T, T, D): past keys decay, the current one gets u.
        log_w = k_c[:, None, :, :] - gap[None, :, :, None] * decay
        log_w = torch.where((j[:, None] == j[None, :])[None, :, :, None], k_c[:, None] + bonus, log_w)
        log_w = log_w.masked_fill((j[None, :] > j[:, None])[None, :, :, None], float("-inf"))
        num, den, max_log = state
        carried_log = max_log[:, None, :] - j[None, :, None].to(k.dtype) * decay  # (B, T, D)
        top = torch.maximum(log_w.amax(dim=2), carried_log)  # (B, T, D)
        weights = torch.exp(log_w - top[:, :, None, :])  # (B, T, T, D)
        carried_scale = torch.exp(carried_log - top)
        numerator = carried_scale * num[:, None] + (weights * v_c[:, None]).sum(2)
        denominator = carried_scale * den[:, None] + weights.sum(2)
        outputs.append(numerator / denominator)
        # Hand on the state after the chunk's last token (no bonus: it is history now).
        end_log = k_c - (size - 1 - j)[None, :, None].to(k.dtype) * decay  # (B, T, D)
        state_log = max_log - size * decay
        new_top = torch.maximum(end_log.amax(dim=1), state_log)
        end_weights = torch.exp(end_log - new_top[:, None])
        state_scale = torch.exp(state_log - new_top)
        state = (
            state_scale * num + (end_weights * v_c).sum(1),
            state_scale * den + end_weights.sum(1),
            new_top,
        )
    return torch.cat(outputs, dim=1), state


def rwkv4_ratios(layer_idx: int, n_layers: int) -> tuple[float, float]:
    """RWKV-4's depth position of a layer: (ratio_0_to_1, ratio_1_to_almost0).

    ratio_0_to_1 = layer_idx / (n_layers - 1) (0 for a single layer, where RWKV-4 would divide
    by zero), ratio_1_to_almost0 = 1 - layer_idx / n_layers.
    """
    assert 0 <= layer_idx < n_layers, f"layer_idx ({layer_idx}) must lie in [0, n_layers = {n_layers})"
    return (layer_idx / (n_layers - 1) if n_layers > 1 else 0.0), 1.0 - layer_idx / n_layers


class RWKVTimeMix(nn.Module):
    """RWKV-4 time mixing: token shift, per-channel decay w and bonus u, WKV, receptance gate.

    Initialised as RWKV-4 at its depth: decay speed -5 + 8 (h / (D-1))^(0.7 + 1.3 r01) for
    channel h, zig-zag bonus around log(0.3), mixes (i / D)^r10 (k), (i / D)^r10 + 0.3 r01 (v)
    and (i / D)^(0.5 r10) (r), with (r01, r10) from ``rwkv4_ratios``.
    """

    def __init__(self, d_model: int, ratio_0_to_1: float, ratio_1_to_almost0: float):
        super().__init__()
        channel = torch.arange(d_model, dtype=torch.float32) / d_model  # (D,) in [0, 1)
        speed = -5 + 8 * (torch.arange(d_model) / max(d_model - 1, 1)) ** (0.7 + 1.3 * ratio_0_to_1)
        zigzag = torch.tensor([(i + 1) % 3 - 1 for i in range(d_model)], dtype=torch.float32) * 0.5
        self.time_decay = nn.Parameter(speed.float())  # w = exp(time_decay) > 0
        self.time_first = nn.Parameter(torch.full((d_model,), math.log(0.3)) + zigzag)  # u
        self.time_mix_k = nn.Parameter(channel ** ratio_1_to_almost0)
        self.time_mix_v = nn.Parameter(channel ** ratio_1_to_almost0 + 0.3 * ratio_0_to_1)
        self.time_mix_r = nn.Parameter(channel ** (0.5 * ratio_1_to_almost0))
        self.key = nn.Linear(d_model, d_model, bias=False)
        self.value = nn.Linear(d_model, d_model, bias=False)
        self.receptance = nn.Linear(d_model, d_model, bias=False)
        self.output = nn.Linear(d_model, d_model, bias=False)

    def _kvr(self, x, previous):
        k = self.key(_mix(x, previous, self.time_mix_k))
        v = self.value(_mix(x, previous, self.time_mix_v))
        r = torch.sigmoid(self.receptance(_mix(x, previous, self.time_mix_r)))
        return k, v, r

    def empty_state(self, x: torch.Tensor):
        zeros = x.new_zeros(x.shape[0], x.shape[-1])
        return zeros, zeros, torch.full_like(zeros, _NO_HISTORY)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, v, r = self._kvr(x, _token_shift(x))  # (B, L, D) each
        wkv, _ = wkv_chunked(torch.exp(self.time_decay), self.time_first, k, v, self.empty_state(x))
        return self.output(r * wkv)

    def step(self, x_t: torch.Tensor, previous: torch.Tensor, wkv_state):
        k, v, r = self._kvr(x_t, previous)  # (B, D) each
        wkv, wkv_state = wkv_step(torch.exp(self.time_decay), self.time_first, k, v, wkv_state)
        return self.output(r * wkv), wkv_state


class RWKVChannelMix(nn.Module):
    """RWKV-4 channel mixing: token shift, squared-ReLU key, sigmoid receptance gate."""

    def __init__(self, d_model: int, hidden: int, ratio_1_to_almost0: float):
        super().__init__()
        channel = torch.arange(d_model, dtype=torch.float32) / d_model
        self.time_mix_k = nn.Parameter(channel ** ratio_1_to_almost0)
        self.time_mix_r = nn.Parameter(channel ** ratio_1_to_almost0)
        self.key = nn.Linear(d_model, hidden, bias=False)
        self.receptance = nn.Linear(d_model, d_model, bias=False)
        self.value = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        k = torch.square(torch.relu(self.key(_mix(x, previous, self.time_mix_k))))
        return torch.sigmoid(self.receptance(_mix(x, previous, self.time_mix_r))) * self.value(k)


class RWKV(nn.Module):
    """One RWKV-4 layer with both of its residual branches, as RWKV-4's ``Block``:

        x = x + time_mix(ln1(x));  x = x + channel_mix(ln2(x))

    so channel mixing reads the residual stream after time mixing. The entry has
    ``residual=False``: the block owns its two LayerNorms and residual adds (the model's ``norm``
    does not apply to it). ``layer_idx`` / ``n_layers`` (the compiler passes the model's number
    of sequence layers) set RWKV-4's per-layer init of the decays and mixes.
    """

    def __init__(
        self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0, n_layers: int = 1,
        ffn_mult: int = 4,
    ):
        super().__init__()
        assert ffn_mult >= 1, f"ffn_mult must be >= 1, got {ffn_mult}"
        ratio_0_to_1, ratio_1_to_almost0 = rwkv4_ratios(layer_idx, n_layers)
        with seeded_init(seed):
            self.ln1 = nn.LayerNorm(d_model)
            self.time_mix = RWKVTimeMix(d_model, ratio_0_to_1, ratio_1_to_almost0)
            self.ln2 = nn.LayerNorm(d_model)
            self.channel_mix = RWKVChannelMix(d_model, ffn_mult * d_model, ratio_1_to_almost0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.time_mix(self.ln1(x))  # (B, L, D)
        h = self.ln2(x)
        return x + self.channel_mix(h, _token_shift(h))

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        zeros = torch.zeros(batch_size, self.ln1.normalized_shape[0], device=device, dtype=dtype)
        # previous input of time-mix, WKV (num, den, max_log), previous input of channel-mix
        return zeros, (zeros, zeros, torch.full_like(zeros, _NO_HISTORY)), zeros

    def step(self, x_t: torch.Tensor, state):
        previous_a, wkv_state, previous_h = state
        a = self.ln1(x_t)
        attended, wkv_state = self.time_mix.step(a, previous_a, wkv_state)
        x_t = x_t + attended
        h = self.ln2(x_t)
        return x_t + self.channel_mix(h, previous_h), (a, wkv_state, h)


def rwkv_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, hidden = d_model, params["ffn_mult"] * d_model
    layer_norms = 2 * 2 * d  # ln1, ln2 (weight and bias): the block owns them (residual=False)
    n_params = layer_norms + 5 * d + 4 * d * d + (2 * d + 2 * d * hidden + d * d)
    matmuls = 2 * (4 * d * d + 2 * d * hidden + d * d)
    chunk = min(seq_len, _WKV_CHUNK)
    # Two layer norms (5 flops a feature), two residual adds, token-shift mixes (5 x 3 flops),
    # chunked WKV (~8 flops per (query, key) pair in a chunk plus the state hand-over), sigmoids,
    # squared ReLU and gates.
    flops = matmuls + 2 * 5 * d + 2 * d + 15 * d + 8 * chunk * d + 20 * d + 3 * hidden
    # Kept per token: both norms (2 x 2D), mixes (5D), k, v, r, wkv (4D), hidden (2F), gates (2D),
    # and the per-chunk (T, D) weight rows of the WKV.
    per_token = 4 * d + 5 * d + 4 * d + 2 * hidden + 2 * d + 2 * chunk * d
    return Cost(n_params, float(flops), float(seq_len * per_token * FLOAT_BYTES))


def rwkv_state(d_model: int, seq_len: int, params: dict) -> float:
    # The previous inputs of time-mix and channel-mix and the WKV (num, den, max_log): 5 x d_model.
    return float(5 * d_model * FLOAT_BYTES)


register(
    BlockType(
        name="rwkv",
        family="recurrent",
        title="RWKV-4",
        description="RWKV-4 layer, both residual branches: x + time_mix(ln1 x), then + channel_mix(ln2 x) "
        "on the stream after time mixing. Time mix: token shift and a per-channel decaying WKV "
        "recurrence (computed stably in log space); channel mix: squared ReLU. Owns its two LayerNorms "
        "(no model pre-norm); decays and mixes start from RWKV-4's per-layer schedule (layer depth / "
        "number of layers).",
        paper="Peng et al. RWKV: Reinventing RNNs for the Transformer Era. EMNLP Findings 2023. "
        "arXiv:2305.13048",
        params=(Param("ffn_mult", "int", 4, "channel-mix hidden width = ffn_mult * d_model", min=1, max=8),),
        build=RWKV,
        cost=rwkv_cost,
        state=rwkv_state,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        residual=False,  # x + att(ln1 x), then + ffn(ln2 x): two branches, inside the block
        check=None,
        tags=("rnn", "linear-time"),
    )
)
