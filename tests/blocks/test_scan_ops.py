"""The scan ops: every form of an op gives the same numbers as the plain recurrence.

Covers blocks/ops/selective_scan.py, blocks/ops/diag_ssm.py and blocks/ops/retention.py.
Tiny float32 tensors, seeded; tolerances are explicit.
"""
import importlib
import inspect
import math
import pkgutil

import pytest
import torch

from blocks.ops.diag_ssm import (
    diag_ssm_init_state,
    diag_ssm_step,
    fft_causal_conv,
    zoh_kernel,
    zoh_step_params,
)
from blocks.ops.retention import (
    retention,
    retention_chunkwise,
    retention_decays,
    retention_init_state,
    retention_recurrent,
    retention_step,
)
from blocks.ops.selective_scan import selective_scan, selective_scan_ref, selective_scan_step

# The module itself: ``import blocks.ops.selective_scan as m`` gives the package's function of that name.
selective_scan_module = importlib.import_module("blocks.ops.selective_scan")

TOL = 1e-5


def _scan_inputs(batch=2, channels=3, state=4, length=13, delta_scale=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.randn(batch, channels, length, generator=g)
    delta = torch.randn(batch, channels, length, generator=g) * delta_scale
    A = -torch.rand(channels, state, generator=g) * 3 - 0.1
    B = torch.randn(batch, state, length, generator=g)
    C = torch.randn(batch, state, length, generator=g)
    D = torch.randn(channels, generator=g)
    z = torch.randn(batch, channels, length, generator=g)
    bias = torch.randn(channels, generator=g) * 0.5
    return u, delta, A, B, C, D, z, bias


def scalar_selective_scan(u, delta, A, B, C, D, z, delta_bias, delta_softplus):
    """The S6 recurrence written out one scalar at a time, independent of the module."""
    batch, channels, length = u.shape
    y = torch.zeros_like(u)
    for b in range(batch):
        for d in range(channels):
            h = [0.0] * A.shape[1]
            for t in range(length):
                dt = float(delta[b, d, t]) + (float(delta_bias[d]) if delta_bias is not None else 0.0)
                if delta_softplus:
                    dt = math.log1p(math.exp(dt))
                out = 0.0
                for n in range(A.shape[1]):
                    h[n] = math.exp(dt * float(A[d, n])) * h[n] + dt * float(B[b, n, t]) * float(u[b, d, t])
                    out += float(C[b, n, t]) * h[n]
                if D is not None:
                    out += float(D[d]) * float(u[b, d, t])
                if z is not None:
                    zz = float(z[b, d, t])
                    out *= zz / (1 + math.exp(-zz))
                y[b, d, t] = out
    return y


@pytest.mark.parametrize("with_extras", [False, True])
def test_selective_scan_ref_matches_scalar_recurrence(with_extras):
    u, delta, A, B, C, D, z, bias = _scan_inputs(length=6)
    kwargs = dict(D=D, z=z, delta_bias=bias, delta_softplus=True) if with_extras else {}
    expected = scalar_selective_scan(
        u, delta if with_extras else delta.abs(), A, B, C,
        kwargs.get("D"), kwargs.get("z"), kwargs.get("delta_bias"), with_extras,
    )
    got = selective_scan_ref(u, delta if with_extras else delta.abs(), A, B, C, **kwargs)
    torch.testing.assert_close(got, expected, atol=TOL, rtol=TOL)


@pytest.mark.parametrize("chunk_size", [1, 4, 5, 13, 64])
def test_chunked_selective_scan_matches_reference(chunk_size):
    u, delta, A, B, C, D, z, bias = _scan_inputs(length=13)
    kwargs = dict(D=D, z=z, delta_bias=bias, delta_softplus=True)
    fast = selective_scan(u, delta, A, B, C, chunk_size=chunk_size, **kwargs)
    ref = selective_scan_ref(u, delta, A, B, C, **kwargs)
    assert fast.shape == u.shape
    torch.testing.assert_close(fast, ref, atol=TOL, rtol=TOL)


@pytest.mark.parametrize("delta_scale", [0.01, 3.0, 40.0])
def test_chunked_selective_scan_is_exact_for_slow_medium_and_fast_decays(delta_scale):
    """Only decays <= 1 are multiplied, so slow, medium and fast decays all give the reference
    numbers with the same chunks."""
    u, delta, A, B, C, D, z, bias = _scan_inputs(length=40)
    delta = delta.abs() * delta_scale
    fast = selective_scan(u, delta, A, B, C, D=D, chunk_size=16)
    torch.testing.assert_close(fast, selective_scan_ref(u, delta, A, B, C, D=D), atol=TOL, rtol=TOL)


def test_selective_scan_propagates_nan_instead_of_raising():
    u, delta, A, B, C, *_ = _scan_inputs(length=9)
    delta = delta.abs()
    delta[0, 1, 4] = float("nan")
    y = selective_scan(u, delta, A, B, C, chunk_size=4)
    assert torch.isnan(y[0, 1, 4:]).all() and torch.isfinite(y[1]).all()


def test_selective_scan_without_optional_arguments_is_the_bare_recurrence():
    u, delta, A, B, C, *_ = _scan_inputs(length=9)
    delta = delta.abs()
    torch.testing.assert_close(
        selective_scan(u, delta, A, B, C, chunk_size=4),
        scalar_selective_scan(u, delta, A, B, C, None, None, None, False),
        atol=TOL, rtol=TOL,
    )


def test_selective_scan_stays_exact_when_decay_would_overflow_log_space():
    """Large steps make the decays underflow (e^{-100s} inside one chunk): finite, exact, and so
    are the gradients."""
    u, delta, A, B, C, D, z, bias = _scan_inputs(length=20, delta_scale=1.0)
    delta = delta.abs() * 20 + 5  # decays of e^{-100s} inside one chunk
    delta.requires_grad_(True)
    fast = selective_scan(u, delta, A, B, C, D=D, chunk_size=8)
    ref = selective_scan_ref(u, delta, A, B, C, D=D)
    assert torch.isfinite(fast).all()
    torch.testing.assert_close(fast, ref, atol=1e-4, rtol=TOL)
    fast.sum().backward()
    assert torch.isfinite(delta.grad).all()


def test_selective_scan_gradients_match_reference():
    u, delta, A, B, C, D, z, bias = _scan_inputs(length=10)
    inputs = [t.clone().requires_grad_(True) for t in (u, delta, A, B, C, D, z, bias)]
    grads = []
    for scan, extra in ((selective_scan, {"chunk_size": 4}), (selective_scan_ref, {})):
        u_, delta_, A_, B_, C_, D_, z_, bias_ = inputs
        out = scan(u_, delta_, A_, B_, C_, D=D_, z=z_, delta_bias=bias_, delta_softplus=True, **extra)
        grads.append(torch.autograd.grad(out.square().sum(), inputs))
    for fast_grad, ref_grad in zip(*grads):
        assert torch.isfinite(fast_grad).all()
        torch.testing.assert_close(fast_grad, ref_grad, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("chunk_size", [None, 1, 3, 7])
def test_selective_scan_across_cache_blocks_matches_reference(monkeypatch, chunk_size):
    """Tiny cache blocks: the state carried between blocks, chunk tails and heads, forward and
    backward, all equal the per-step loop."""
    monkeypatch.setattr(selective_scan_module, "_BLOCK_NUMEL", 2 * 3 * 4 * 10)  # 10 positions
    u, delta, A, B, C, D, z, bias = _scan_inputs(length=47)
    inputs = [t.clone().requires_grad_(True) for t in (u, delta, A, B, C, D, z, bias)]
    outputs, grads = [], []
    for scan, extra in ((selective_scan, {"chunk_size": chunk_size}), (selective_scan_ref, {})):
        u_, delta_, A_, B_, C_, D_, z_, bias_ = inputs
        out = scan(u_, delta_, A_, B_, C_, D=D_, z=z_, delta_bias=bias_, delta_softplus=True, **extra)
        outputs.append(out)
        grads.append(torch.autograd.grad((out * torch.cos(out.detach())).sum(), inputs))
    torch.testing.assert_close(outputs[0], outputs[1], atol=TOL, rtol=TOL)
    for fast_grad, ref_grad in zip(*grads):
        torch.testing.assert_close(fast_grad, ref_grad, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("layout", ["channel", "batch_time", "time"])
def test_selective_scan_takes_any_memory_layout(layout):
    """(b, c, L) views of (b, L, c) or (L, b, c) memory, as a block hands them over, give the
    reference numbers and gradients too."""
    order = {"channel": (0, 1, 2), "batch_time": (0, 2, 1), "time": (2, 0, 1)}[layout]
    inverse = [order.index(i) for i in range(3)]
    u, delta, A, B, C, D, z, bias = _scan_inputs(length=21)
    leaves = [t.permute(order).contiguous().requires_grad_(True) for t in (u, delta, B, C)]
    grads = []
    for scan in (selective_scan, selective_scan_ref):
        u_, delta_, B_, C_ = (t.permute(inverse) for t in leaves)
        out = scan(u_, delta_, A, B_, C_, D=D, z=z, delta_bias=bias, delta_softplus=True)
        grads.append((out, *torch.autograd.grad(out.square().sum(), leaves)))
    for fast, ref in zip(*grads):
        torch.testing.assert_close(fast, ref, atol=1e-4, rtol=1e-4)


def test_selective_scan_backward_passes_gradcheck():
    u, delta, A, B, C, *_ = _scan_inputs(batch=2, channels=2, state=3, length=9)
    inputs = tuple(t.double().requires_grad_(True) for t in (u, delta.abs(), A, B, C))
    assert torch.autograd.gradcheck(lambda *x: selective_scan(*x, chunk_size=2), inputs)


def test_selective_scan_of_an_empty_sequence_is_empty():
    u, delta, A, B, C, *_ = _scan_inputs(length=0)
    assert selective_scan(u, delta, A, B, C).shape == u.shape


def test_selective_scan_step_by_step_equals_parallel():
    u, delta, A, B, C, D, z, bias = _scan_inputs(length=11)
    parallel = selective_scan(u, delta, A, B, C, D=D, z=z, delta_bias=bias, delta_softplus=True)
    state = torch.zeros(u.shape[0], u.shape[1], A.shape[1])
    outputs = []
    for t in range(u.shape[-1]):
        y_t, state = selective_scan_step(
            state, u[..., t], delta[..., t], A, B[..., t], C[..., t], D=D, z_t=z[..., t],
            delta_bias=bias, delta_softplus=True,
        )
        outputs.append(y_t)
    torch.testing.assert_close(torch.stack(outputs, -1), parallel, atol=TOL, rtol=TOL)


def test_selective_scan_is_causal():
    u, delta, A, B, C, D, z, bias = _scan_inputs(length=12)
    y = selective_scan(u, delta, A, B, C, D=D, z=z, chunk_size=5)
    u2, B2 = u.clone(), B.clone()
    u2[..., 7:] += 3.0
    B2[..., 7:] -= 2.0
    y2 = selective_scan(u2, delta, A, B2, C, D=D, z=z, chunk_size=5)
    torch.testing.assert_close(y2[..., :7], y[..., :7], atol=0, rtol=0)
    assert not torch.allclose(y2[..., 7:], y[..., 7:])


# ----------------------------------------------------------------------------- diagonal SSM


def _diag_params(channels=3, half=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    log_dt = torch.rand(channels, generator=g) * (math.log(0.1) - math.log(0.001)) + math.log(0.001)
    A_real_log = torch.log(torch.rand(channels, half, generator=g) + 0.2)
    A_imag = math.pi * torch.arange(half).float().repeat(channels, 1)
    C = torch.complex(torch.randn(channels, half, generator=g), torch.randn(channels, half, generator=g))
    return log_dt, A_real_log, A_imag, C


@pytest.mark.parametrize("length", [1, 6, 16, 17, 50])  # squares and not: the kernel is built in sqrt(L) blocks
def test_zoh_kernel_is_the_closed_form_of_the_discretised_ssm(length):
    log_dt, A_real_log, A_imag, C = _diag_params()
    kernel = zoh_kernel(log_dt, A_real_log, A_imag, C, length)
    assert kernel.shape == (3, length) and kernel.dtype == torch.float32
    dt = torch.exp(log_dt)[:, None].double()
    A = (-torch.exp(A_real_log) + 1j * A_imag).to(torch.complex128)
    dA = torch.exp(dt * A)
    dB = (dA - 1) / A
    for l in range(length):
        expected = 2 * (C.to(torch.complex128) * dB * dA**l).sum(-1).real
        torch.testing.assert_close(kernel[:, l].double(), expected, atol=TOL, rtol=TOL)


def test_zoh_kernel_gradients_equal_those_of_the_explicit_sum():
    params = [t.double().requires_grad_(True) if not t.is_complex() else t.to(torch.complex128).requires_grad_(True)
              for t in _diag_params()]
    log_dt, A_real_log, A_imag, C = params
    weights = torch.randn(3, 23, dtype=torch.float64, generator=torch.Generator().manual_seed(4))

    def explicit():
        A = torch.complex(-torch.exp(A_real_log), A_imag)
        dtA = A * torch.exp(log_dt)[:, None]
        powers = torch.exp(dtA[..., None] * torch.arange(23, dtype=torch.float64))
        return 2 * torch.einsum("hn,hnl->hl", C * (torch.exp(dtA) - 1) / A, powers).real

    grads = [torch.autograd.grad((f() * weights).sum(), params)
             for f in (lambda: zoh_kernel(log_dt, A_real_log, A_imag, C, 23), explicit)]
    for fast, slow in zip(*grads):
        torch.testing.assert_close(fast, slow, atol=1e-10, rtol=1e-8)


def test_fft_causal_conv_equals_direct_convolution():
    g = torch.Generator().manual_seed(1)
    u, k = torch.randn(2, 3, 9, generator=g), torch.randn(3, 9, generator=g)
    direct = torch.zeros_like(u)
    for t in range(9):
        for s in range(t + 1):
            direct[..., t] += k[:, t - s] * u[..., s]
    torch.testing.assert_close(fft_causal_conv(u, k), direct, atol=TOL, rtol=TOL)


def test_fft_causal_conv_does_not_wrap_around():
    u = torch.zeros(1, 1, 8)
    u[..., -1] = 1.0  # the last input must not leak into earlier outputs through the FFT
    y = fft_causal_conv(u, torch.ones(1, 8))
    torch.testing.assert_close(y[..., :-1], torch.zeros(1, 1, 7), atol=TOL, rtol=0)


def test_diag_ssm_recurrence_equals_kernel_convolution():
    log_dt, A_real_log, A_imag, C = _diag_params()
    u = torch.randn(2, 3, 17, generator=torch.Generator().manual_seed(2))
    conv = fft_causal_conv(u, zoh_kernel(log_dt, A_real_log, A_imag, C, 17))
    dA, dB_C = zoh_step_params(log_dt, A_real_log, A_imag, C)
    state = diag_ssm_init_state(2, 3, 4)
    outputs = []
    for t in range(17):
        y_t, state = diag_ssm_step(u[..., t], state, dA, dB_C)
        outputs.append(y_t)
    torch.testing.assert_close(torch.stack(outputs, -1), conv, atol=TOL, rtol=TOL)


# ----------------------------------------------------------------------------- retention


def _qkv(batch=2, length=13, heads=3, key_dim=4, value_dim=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, length, heads, key_dim, generator=g)
    k = torch.randn(batch, length, heads, key_dim, generator=g)
    v = torch.randn(batch, length, heads, value_dim, generator=g)
    return q, k, v


def test_retention_decays_follow_the_paper():
    torch.testing.assert_close(retention_decays(3), torch.tensor([1 - 1 / 32, 1 - 1 / 64, 1 - 1 / 128]))


def test_parallel_retention_is_the_decayed_causal_sum():
    q, k, v = _qkv(length=6)
    gammas = retention_decays(3)
    expected = torch.zeros(2, 6, 3, 5)
    for n in range(6):
        for m in range(n + 1):
            weight = (q[:, n] * k[:, m]).sum(-1) * 4**-0.5 * gammas ** (n - m)  # (B, H)
            expected[:, n] += weight.unsqueeze(-1) * v[:, m]
    torch.testing.assert_close(retention(q, k, v), expected, atol=TOL, rtol=TOL)


def test_recurrent_retention_equals_parallel():
    q, k, v = _qkv()
    torch.testing.assert_close(retention_recurrent(q, k, v), retention(q, k, v), atol=TOL, rtol=TOL)


@pytest.mark.parametrize("chunk_size", [1, 3, 4, 13, 32])
def test_chunkwise_retention_equals_parallel(chunk_size):
    q, k, v = _qkv()
    chunked = retention_chunkwise(q, k, v, chunk_size)
    torch.testing.assert_close(chunked, retention(q, k, v), atol=TOL, rtol=TOL)


def test_retention_step_carries_the_state_of_the_prefix():
    q, k, v = _qkv(length=7)
    state = retention_init_state(2, 3, 4, 5)
    for t in range(6):
        _, state = retention_step(q[:, t], k[:, t], v[:, t], state)
    last, _ = retention_step(q[:, 6], k[:, 6], v[:, 6], state)
    torch.testing.assert_close(last, retention(q, k, v)[:, 6], atol=TOL, rtol=TOL)


def test_retention_is_causal_and_has_finite_gradients():
    q, k, v = _qkv(length=10)
    k = k.clone().requires_grad_(True)
    out = retention_chunkwise(q, k, v, 4)
    k2, v2 = k.detach().clone(), v.clone()
    k2[:, 6:] += 1.0
    v2[:, 6:] -= 1.0
    changed = retention_chunkwise(q, k2, v2, 4)
    torch.testing.assert_close(changed[:, :6], out[:, :6].detach(), atol=TOL, rtol=TOL)
    out.square().sum().backward()
    assert torch.isfinite(k.grad).all() and k.grad[:, 6:].abs().sum() > 0


# Every module of the package, found rather than listed (a hand list missed new ops twice).
OPS_MODULES = tuple(m.name for m in pkgutil.iter_modules(importlib.import_module("blocks.ops").__path__))


def test_the_package_exports_every_public_function_of_its_modules():
    """DESIGN.md: ``from blocks.ops import selective_scan`` (and linear_attention, retention) are functions."""
    import blocks.ops
    from blocks.ops import linear_attention as linear_attention_op
    from blocks.ops import retention as retention_op
    from blocks.ops import selective_scan as selective_scan_op

    assert selective_scan_op is selective_scan and retention_op is retention
    assert linear_attention_op is importlib.import_module("blocks.ops.linear_attention").linear_attention
    public = set()
    for name in OPS_MODULES:
        module = importlib.import_module(f"blocks.ops.{name}")
        public |= {n for n, f in vars(module).items()
                   if inspect.isfunction(f) and f.__module__ == module.__name__ and not n.startswith("_")}
    assert public == set(blocks.ops.__all__)
    assert all(inspect.isfunction(getattr(blocks.ops, n)) for n in blocks.ops.__all__)
    u, delta, A, B, C, _, _, _ = _scan_inputs(length=5)
    torch.testing.assert_close(blocks.ops.selective_scan(u, delta, A, B, C), selective_scan_ref(u, delta, A, B, C),
                               atol=TOL, rtol=TOL)
