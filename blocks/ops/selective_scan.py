"""The Mamba S6 selective scan: a fast chunked form, the per-step reference, and one step.

Layout as in the official Mamba code (state-spaces/mamba, selective_scan_interface.py):
u, delta, z (batch, channels, length); A (channels, state); B, C (batch, state, length);
D (channels,). Per channel d and state n:
    h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t,    y_t = C_t . h_t + D u_t,
then y *= silu(z) when z is given.

The chunked form splits the sequence into chunks. Inside a chunk the state is a cumulative
sum in log space, h_t = e^{c_t} (h_in + sum_{s<=t} e^{-c_s} x_s) with c_t = A * cumsum(delta)
(<= 0); between chunks a short sequential loop carries h_in. The factor e^{-c_s} grows within
a chunk, so chunks are shortened (from ``chunk_size``) until no chunk can decay by more than
``_MAX_LOG_DECAY``; when even ``_MIN_LOG_CHUNK`` positions could, it instead loops over the
positions of a chunk for all chunks at once, which only ever multiplies decays <= 1.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

# The fast path divides by e^{c} >= e^{-30}; its backward divides by it twice, and e^{60} ~ 1e26
# stays far below float32's 3e38 even times large inputs, so nothing overflows.
_MAX_LOG_DECAY = 30.0
# Shorter log-space chunks would mean more sequential carries than the position loop costs.
_MIN_LOG_CHUNK = 4


def _prepare_delta(delta: torch.Tensor, delta_bias, delta_softplus: bool) -> torch.Tensor:
    if delta_bias is not None:
        delta = delta + delta_bias.unsqueeze(-1)
    if delta_softplus:
        delta = F.softplus(delta)
    return delta


def _finish(y, u, D, z):
    """Add the skip D u and apply the silu(z) gate, as the official kernel does."""
    if D is not None:
        y = y + u * D.unsqueeze(-1)
    if z is not None:
        y = y * F.silu(z)
    return y


def _check_shapes(u, delta, A, B, C):
    assert u.dim() == 3 and delta.shape == u.shape, "u and delta must be (batch, channels, length)"
    batch, channels, length = u.shape
    assert A.shape[0] == channels and A.dim() == 2, "A must be (channels, state)"
    state = A.shape[1]
    expected = (batch, state, length)
    assert B.shape == expected and C.shape == expected, f"B and C must be {expected}"


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    chunk_size: int = 32,
) -> torch.Tensor:
    """Selective scan, chunked parallel form. Returns y (batch, channels, length)."""
    _check_shapes(u, delta, A, B, C)
    assert chunk_size >= 1, "chunk_size must be positive"
    delta = _prepare_delta(delta, delta_bias, delta_softplus)
    batch, channels, length = u.shape
    state = A.shape[1]
    chunk = min(chunk_size, length)
    # The steepest single-step decay bounds every chunk's decay by chunk * steepest.
    steepest = float(delta.detach().abs().amax() * A.detach().abs().amax()) if u.numel() and A.numel() else 0.0
    log_space_chunk = int(_MAX_LOG_DECAY / steepest) if steepest > 0 else chunk
    log_space = log_space_chunk >= min(_MIN_LOG_CHUNK, chunk)
    if log_space:
        chunk = min(chunk, log_space_chunk)
    n_chunks = -(-length // chunk)
    pad = n_chunks * chunk - length
    # Padding with delta = 0, u = 0 adds nothing to the state (decay 1, input 0).
    delta_p = F.pad(delta, (0, pad))
    u_p = F.pad(u, (0, pad))
    B_p = F.pad(B, (0, pad))
    C_p = F.pad(C, (0, pad))

    delta_c = delta_p.view(batch, channels, n_chunks, chunk)  # (b, d, c, T)
    B_c = B_p.view(batch, state, n_chunks, chunk).permute(0, 2, 3, 1).unsqueeze(1)  # (b, 1, c, T, n)
    C_c = C_p.view(batch, state, n_chunks, chunk).permute(0, 2, 3, 1).unsqueeze(1)  # (b, 1, c, T, n)
    inputs = (delta_c * u_p.view_as(delta_c)).unsqueeze(-1) * B_c  # (b, d, c, T, n): delta_s B_s u_s
    if log_space:
        delta_sum = torch.cumsum(delta_c, dim=-1)  # (b, d, c, T)
        decay = (delta_sum.unsqueeze(-1) * A[:, None, None, :]).exp_()  # e^{c_t}, (b, d, c, T, n)
        # The zero-start state inside the chunk divided by e^{c_t}: sum_{s<=t} e^{-c_s} x_s.
        scaled_local = torch.cumsum(inputs / decay, dim=3)
        chunk_final = decay[..., -1, :] * scaled_local[..., -1, :]  # (b, d, c, n)
    else:
        decay, local = _local_states_by_loop(delta_c, A, inputs)
        chunk_final = local[..., -1, :]

    # Carry between chunks: h_in of chunk c is the final state of chunk c-1 (a short loop).
    chunk_decay = decay[..., -1, :]  # (b, d, c, n)
    carried = [torch.zeros_like(chunk_final[:, :, 0])]
    for c in range(n_chunks - 1):
        carried.append(chunk_decay[:, :, c] * carried[-1] + chunk_final[:, :, c])
    h_in = torch.stack(carried, dim=2).unsqueeze(3)  # (b, d, c, 1, n)

    # h_t = e^{c_t} (h_in + scaled_local_t) = local_t + e^{c_t} h_in;  y_t = C_t . h_t
    if log_space:
        y = ((scaled_local + h_in) * (decay * C_c)).sum(-1)  # (b, d, c, T)
    else:
        y = ((local + decay * h_in) * C_c).sum(-1)
    y = y.reshape(batch, channels, -1)[..., :length]
    return _finish(y, u, D, z)


def _local_states_by_loop(delta_c, A, inputs):
    """Zero-start states inside every chunk, stepping positions for all chunks at once."""
    decay_steps = torch.exp(delta_c.unsqueeze(-1) * A[:, None, None, :])  # (b, d, c, T, n)
    h = torch.zeros_like(inputs[..., 0, :])
    running = torch.ones_like(h)
    states, decays = [], []
    for t in range(inputs.shape[3]):
        h = decay_steps[..., t, :] * h + inputs[..., t, :]
        running = running * decay_steps[..., t, :]
        states.append(h)
        decays.append(running)
    return torch.stack(decays, dim=3), torch.stack(states, dim=3)


def selective_scan_ref(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
) -> torch.Tensor:
    """The recurrence itself, one Python step per position (the reference the tests trust)."""
    _check_shapes(u, delta, A, B, C)
    delta = _prepare_delta(delta, delta_bias, delta_softplus)
    batch, channels, length = u.shape
    h = u.new_zeros(batch, channels, A.shape[1])
    ys = []
    for t in range(length):
        decay = torch.exp(delta[:, :, t, None] * A)  # (b, d, n)
        h = decay * h + (delta[:, :, t] * u[:, :, t])[..., None] * B[:, None, :, t]
        ys.append((h * C[:, None, :, t]).sum(-1))  # (b, d)
    y = torch.stack(ys, dim=-1)
    return _finish(y, u, D, z)


def selective_scan_step(
    state: torch.Tensor,
    u_t: torch.Tensor,
    delta_t: torch.Tensor,
    A: torch.Tensor,
    B_t: torch.Tensor,
    C_t: torch.Tensor,
    D: torch.Tensor | None = None,
    z_t: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One position: state (b, d, n), u_t, delta_t, z_t (b, d), B_t, C_t (b, n).

    Returns (y_t (b, d), new state); stepping from a zero state equals ``selective_scan``.
    """
    if delta_bias is not None:
        delta_t = delta_t + delta_bias
    if delta_softplus:
        delta_t = F.softplus(delta_t)
    state = torch.exp(delta_t.unsqueeze(-1) * A) * state + (delta_t * u_t).unsqueeze(-1) * B_t.unsqueeze(1)
    y_t = (state * C_t.unsqueeze(1)).sum(-1)  # (b, d)
    if D is not None:
        y_t = y_t + D * u_t
    if z_t is not None:
        y_t = y_t * F.silu(z_t)
    return y_t, state
