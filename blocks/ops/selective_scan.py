"""The Mamba S6 selective scan: a fast chunked form, the per-step reference, and one step.

Layout as in the official Mamba code (state-spaces/mamba, selective_scan_interface.py):
u, delta, z (batch, channels, length); A (channels, state); B, C (batch, state, length);
D (channels,). Per channel d and state n:
    h_t = exp(delta_t A) h_{t-1} + delta_t B_t u_t,    y_t = C_t . h_t + D u_t,
then y *= silu(z) when z is given.

The fast form (``selective_scan``) is an autograd Function with its own backward. It works
time-major, on (length, batch, state, channels) buffers, so one position is one contiguous slab
and the contractions over state and channels are plain batched matmuls or contiguous sums. The
sequence is walked in blocks of about half a million numbers, which stay in cache for the few
passes made over them (a pass from cache costs about a quarter of one from memory), with the
state carried from block to block. Inside a block the recurrence h_t = a_t h_{t-1} + x_t is a
two-level scan: all chunks of ``chunk`` positions are stepped at once from a zero state, the
chunk ends are chained, then every chunk adds its carried-in state times its running product of
decays. Only decays a_t = exp(delta_t A) <= 1 are multiplied (no division, no log space), so the
result is exact and finite for any step size and no step size changes the work.

Nothing of length L x channels x state is kept for backward: the forward saves the state at each
block start, and the backward recomputes a block's decays and states, then runs the same scan in
reverse on the adjoint, g_t = a_{t+1} g_{t+1} + C_t dy_t.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

# Numbers per block buffer (2 MiB of float32): big enough that an op's dispatch cost is small
# next to its work, small enough that a block's few buffers stay in L2/L3 cache, and far below
# glibc's 32 MiB mmap ceiling, above which every call would page-fault its buffers in afresh.
_BLOCK_NUMEL = 1 << 19


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
    chunk_size: int | None = None,
) -> torch.Tensor:
    """Selective scan, chunked form. Returns y (batch, channels, length).

    ``chunk_size`` fixes the chunk inside a cache block; None picks ~sqrt(block).
    """
    _check_shapes(u, delta, A, B, C)
    assert chunk_size is None or chunk_size >= 1, "chunk_size must be positive"
    delta = _prepare_delta(delta, delta_bias, delta_softplus)
    if u.shape[-1] == 0:
        y = u.new_zeros(u.shape)
    else:
        y = _SelectiveScan.apply(u, delta, A, B, C, chunk_size)
    return _finish(y, u, D, z)


def _plan(length: int, numel_per_step: int, chunk_size: int | None) -> tuple[int, int]:
    """(block, chunk): positions per cache block, and per chunk inside a block."""
    block = max(1, min(length, _BLOCK_NUMEL // max(numel_per_step, 1)))
    if chunk_size is None:
        # a block costs ~chunk steps over all its chunks plus ~block/chunk chained chunk ends
        chunk = max(1, round(math.sqrt(block)))
    else:
        chunk = max(1, min(chunk_size, length))
        block = max(block, 2 * chunk)  # at least two chunks per block, or nothing runs in parallel
    block = min(length, max(chunk, block - block % chunk))  # whole chunks per block
    return block, chunk


def _scan_(a: torch.Tensor, x: torch.Tensor, chunk: int, prod: torch.Tensor) -> None:
    """In place, x (S, M) becomes h with h_t = a_t h_{t-1} + x_t and h_{-1} = 0 (a[0] unused).

    ``prod`` is scratch of at least x's size: the running products of decays within each chunk.
    """
    steps = x.shape[0]
    chunks = steps // chunk
    body = chunks * chunk
    if chunks:
        av = a[:body].view(chunks, chunk, -1)
        xv = x[:body].view(chunks, chunk, -1)
        pv = prod[:body].view(chunks, chunk, -1)
        # unbind once: indexing inside the loops would cost a dispatch per view
        a_t, x_t, p_t = av.unbind(1), xv.unbind(1), pv.unbind(1)
        p_t[0].copy_(a_t[0])
        for t in range(1, chunk):  # every chunk from a zero state, all chunks in one op per step
            x_t[t].addcmul_(a_t[t], x_t[t - 1])
            torch.mul(a_t[t], p_t[t - 1], out=p_t[t])
        ends, decays = x_t[-1].unbind(0), p_t[-1].unbind(0)
        for k in range(1, chunks):  # chain the chunk ends: each becomes the true state there
            ends[k].addcmul_(decays[k], ends[k - 1])
        ends = x_t[-1]
        # the rest of each chunk gains the state carried in, decayed to its position
        xv[1:, :-1].addcmul_(pv[1:, :-1], ends[:-1].unsqueeze(1))
    for t in range(max(body, 1), steps):  # the tail that fills no whole chunk
        x[t].addcmul_(a[t], x[t - 1])


def _scan_reverse_(d: torch.Tensor, x: torch.Tensor, chunk: int, prod: torch.Tensor) -> None:
    """In place, x (S, M) becomes g with g_t = d_t g_{t+1} + x_t and g_S = 0 (d[S-1] unused).

    The mirror of ``_scan_``: chunks are aligned to the end, and the head is stepped last.
    """
    steps = x.shape[0]
    chunks = steps // chunk
    head = steps - chunks * chunk
    if chunks:
        dv = d[head:].view(chunks, chunk, -1)
        xv = x[head:].view(chunks, chunk, -1)
        pv = prod[head:steps].view(chunks, chunk, -1)
        d_t, x_t, p_t = dv.unbind(1), xv.unbind(1), pv.unbind(1)
        p_t[-1].copy_(d_t[-1])  # p_t[t]: decay from t to the next chunk's first position
        for t in range(chunk - 2, -1, -1):
            x_t[t].addcmul_(d_t[t], x_t[t + 1])
            torch.mul(d_t[t], p_t[t + 1], out=p_t[t])
        starts, decays = x_t[0].unbind(0), p_t[0].unbind(0)
        for k in range(chunks - 2, -1, -1):  # chain the chunk starts from the end
            starts[k].addcmul_(decays[k], starts[k + 1])
        starts = x_t[0]
        xv[:-1, 1:].addcmul_(pv[:-1, 1:], starts[1:].unsqueeze(1))
    for t in range(min(head, steps - 1) - 1, -1, -1):
        x[t].addcmul_(d[t], x[t + 1])


def _layout(x: torch.Tensor) -> str:
    """How a (b, c, L) tensor lies in memory: "time" (L, b, c), "batch_time" (b, L, c), or
    "channel" (b, c, L) or anything else."""
    if x.permute(2, 0, 1).is_contiguous():
        return "time"
    if x.transpose(1, 2).is_contiguous():
        return "batch_time"
    return "channel"


def _time_major(x: torch.Tensor) -> torch.Tensor:
    """(b, c, L) -> (L, b, c) contiguous, by the cheapest copy for x's layout (or none)."""
    layout = _layout(x)
    if layout == "time":
        return x.permute(2, 0, 1)
    if layout == "batch_time":  # whole rows of c numbers move: a streaming copy
        return x.permute(2, 0, 1).contiguous()
    b, c, length = x.shape
    # a 2-D transpose has a fast blocked kernel; a 3-D permute copy does not
    return x.reshape(b * c, length).t().contiguous().view(length, b, c)


def _from_time_major(x_tm: torch.Tensor, layout: str) -> torch.Tensor:
    """(L, b, c) -> (b, c, L) laid out as ``layout``: elementwise ops between tensors of
    different layouts run over strided memory, several times slower."""
    if layout == "time":
        return x_tm.permute(1, 2, 0)
    if layout == "batch_time":
        return x_tm.transpose(0, 1).contiguous().transpose(1, 2)
    length, b, c = x_tm.shape
    return x_tm.view(length, b * c).t().contiguous().view(b, c, length)


class _SelectiveScan(torch.autograd.Function):
    """y = C . h over the recurrence, without D or z; delta already biased and softplus-ed."""

    @staticmethod
    def forward(ctx, u, delta, A, B, C, chunk_size):
        batch, channels, length = u.shape
        state = A.shape[1]
        step = batch * channels * state
        block, chunk = _plan(length, step, chunk_size)
        dt, ut, Bt, Ct = _time_major(delta), _time_major(u), _time_major(B), _time_major(C)
        dtu = dt * ut
        # exp(dt A) as exp2(dt A log2 e): torch's exp2 kernel is ~3x faster than exp on CPU
        A2 = (A.t() * math.log2(math.e)).contiguous()  # (n, d)
        abuf = u.new_empty(block, batch, state, channels)
        hbuf = torch.empty_like(abuf)
        prod = u.new_empty(block, step)
        blocks = range(0, length, block)
        starts = u.new_zeros(len(blocks), batch, state, channels)
        y = u.new_empty(length, batch, channels)
        for i, s0 in enumerate(blocks):
            s1 = min(s0 + block, length)
            S = s1 - s0
            if i:
                starts[i].copy_(hbuf[block - 1])
            ab, hb = abuf[:S], hbuf[:S]
            torch.mul(dt[s0:s1].unsqueeze(2), A2, out=ab).exp2_()
            torch.mul(dtu[s0:s1].unsqueeze(2), Bt[s0:s1].unsqueeze(-1), out=hb)
            if i:
                hb[0].addcmul_(ab[0], starts[i])
            _scan_(ab.view(S, step), hb.view(S, step), chunk, prod)
            torch.bmm(Ct[s0:s1].view(S * batch, 1, state), hb.view(S * batch, state, channels),
                      out=y[s0:s1].view(S * batch, 1, channels))
        ctx.save_for_backward(ut, dt, dtu, A, Bt, Ct, starts)
        ctx.plan = (block, chunk)
        # each gradient is laid out as its input was, the output as u is (the D u skip adds them)
        ctx.layouts = (_layout(u), _layout(delta), _layout(B), _layout(C))
        return _from_time_major(y, ctx.layouts[0])

    @staticmethod
    @once_differentiable
    def backward(ctx, gy):
        ut, dt, dtu, A, Bt, Ct, starts = ctx.saved_tensors
        block, chunk = ctx.plan
        length, batch, channels = ut.shape
        state = A.shape[1]
        step = batch * channels * state
        A2 = (A.t() * math.log2(math.e)).contiguous()
        At = A.t().contiguous()
        gyt = _time_major(gy).unsqueeze(2)  # (L, b, 1, d)
        d_dtu = gy.new_empty(length, batch, channels)
        d_dta = gy.new_empty(length, batch, channels)
        dBt = gy.new_empty(length, batch, state)
        dCt = gy.new_empty(length, batch, state)
        dAt = torch.zeros_like(At)
        abuf = gy.new_empty(block + 1, batch, state, channels)
        abuf[block].zero_()  # the reverse scan never reads its last decay; keep it defined
        hbuf = gy.new_empty(block, batch, state, channels)
        gbuf = torch.empty_like(hbuf)
        wbuf = torch.empty_like(hbuf)
        prod = gy.new_empty(block, step)
        g_next = None  # the adjoint at the first position of the block after this one
        blocks = list(range(0, length, block))
        for i in reversed(range(len(blocks))):
            s0 = blocks[i]
            s1 = min(s0 + block, length)
            S = s1 - s0
            rows = S * batch
            ab, hb, gb, wb = abuf[:S], hbuf[:S], gbuf[:S], wbuf[:S]
            # recompute this block's decays and states from the state saved at its start
            torch.mul(dt[s0:s1].unsqueeze(2), A2, out=ab).exp2_()
            torch.mul(dtu[s0:s1].unsqueeze(2), Bt[s0:s1].unsqueeze(-1), out=hb)
            if i:
                hb[0].addcmul_(ab[0], starts[i])
            _scan_(ab.view(S, step), hb.view(S, step), chunk, prod)
            torch.mul(gyt[s0:s1], Ct[s0:s1].unsqueeze(-1), out=gb)
            if g_next is not None:  # the adjoint flowing back from the next block
                gb[-1].addcmul_(torch.exp2(dt[s1].unsqueeze(1) * A2), g_next)
            _scan_reverse_(abuf[1 : S + 1].view(S, step), gb.view(S, step), chunk, prod)
            g_next = gb[0].clone()  # gbuf is overwritten by the next (earlier) block
            torch.sum(torch.mul(hb, gyt[s0:s1], out=wb), -1, out=dCt[s0:s1])
            torch.bmm(Bt[s0:s1].view(rows, 1, state), gb.view(rows, state, channels),
                      out=d_dtu[s0:s1].view(rows, 1, channels))
            torch.sum(torch.mul(gb, dtu[s0:s1].unsqueeze(2), out=wb), -1, out=dBt[s0:s1])
            # d log a_t = g_t a_t h_{t-1}
            torch.mul(gb[1:], hb[:-1], out=wb[1:])
            torch.mul(gb[0], starts[i], out=wb[0])
            wb.mul_(ab)
            dAt.add_(torch.mul(wb, dt[s0:s1].unsqueeze(2), out=gb).view(rows, state, channels).sum(0))
            torch.sum(wb.mul_(At), 2, out=d_dta[s0:s1])
        d_dt = d_dta.addcmul_(d_dtu, ut)
        du = d_dtu.mul_(dt)
        u_layout, delta_layout, B_layout, C_layout = ctx.layouts
        return (_from_time_major(du, u_layout), _from_time_major(d_dt, delta_layout), dAt.t(),
                _from_time_major(dBt, B_layout), _from_time_major(dCt, C_layout), None)


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
