"""RWKV-4 (``rwkv``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.recurrent.rwkv``; this module is imported only when a model is built."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from blocks.library.recurrent.rwkv import _WKV_CHUNK
from blocks.library.ssm.common_nn import seeded_init


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
