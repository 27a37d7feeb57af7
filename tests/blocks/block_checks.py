"""Checks every block family's tests share: build one block, feed it step by step, and assert
causality, step/forward agreement, finite gradients and the cost model's exact parameter count."""
import torch

from blocks.registry import get_block

TOL = 1e-5


def build(name, d_model=16, max_seq_len=32, seed=0, **given):
    entry = get_block(name)
    params = entry.resolve_params(given)
    return entry.build(d_model=d_model, max_seq_len=max_seq_len, layer_idx=0, seed=seed, **params)


def random_tokens(batch=2, length=11, d_model=16, seed=0):
    return torch.randn(batch, length, d_model, generator=torch.Generator().manual_seed(seed))


def run_steps(module, x):
    """Feed x (B, L, D) one token at a time through ``step``; returns (B, L, D)."""
    state = module.init_state(x.shape[0], x.device, x.dtype)
    outputs = []
    for t in range(x.shape[1]):
        y_t, state = module.step(x[:, t], state)
        assert y_t.shape == (x.shape[0], x.shape[2])
        outputs.append(y_t)
    return torch.stack(outputs, dim=1)


def state_tensor_bytes(state) -> int:
    """Bytes of the floating (and complex) tensors in a nested step state; position counters do not count."""
    if isinstance(state, torch.Tensor):
        return state.numel() * state.element_size() if (state.is_floating_point() or state.is_complex()) else 0
    if isinstance(state, dict):
        return sum(state_tensor_bytes(v) for v in state.values())
    if isinstance(state, (tuple, list)):
        return sum(state_tensor_bytes(v) for v in state)
    return 0


def assert_causal(module, x, t=5):
    """Changing tokens after position t changes nothing at positions <= t."""
    with torch.no_grad():
        y = module(x)
        x2 = x.clone()
        x2[:, t + 1 :] += torch.randn_like(x2[:, t + 1 :]) * 3
        y2 = module(x2)
    torch.testing.assert_close(y2[:, : t + 1], y[:, : t + 1], atol=TOL, rtol=TOL)
    assert not torch.allclose(y2[:, t + 1 :], y[:, t + 1 :], atol=1e-4), "later tokens had no effect"


def assert_step_matches_forward(module, x):
    with torch.no_grad():
        torch.testing.assert_close(run_steps(module, x), module(x), atol=TOL, rtol=TOL)


def assert_finite_gradients(module, x):
    x = x.clone().requires_grad_(True)
    module(x).square().mean().backward()
    assert torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    for name, p in module.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), f"bad gradient for {name}"


def assert_cost_params_exact(name, d_model, given):
    entry = get_block(name)
    module = build(name, d_model=d_model, **given)
    actual = sum(p.numel() for p in module.parameters())
    cost = entry.cost(d_model, 32, entry.resolve_params(given))
    assert cost.params == actual, f"{name} {given}: cost says {cost.params}, module holds {actual}"
    assert cost.flops_per_token > 0 and cost.activation_bytes > 0


def check_fields(name, d_model, max_seq_len, given):
    entry = get_block(name)
    return [field for field, _ in entry.check(d_model, max_seq_len, entry.resolve_params(given))]
