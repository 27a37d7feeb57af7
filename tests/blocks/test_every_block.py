"""Every registered sequence block, through the compiler: builds, is causal where it says so, steps
like its forward where it is recurrent, has finite gradients, exact parameter cost, and learns."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from blocks.compiler import compile_spec
from blocks.spec import validate_spec
from tests.blocks.conftest import chain_spec, sequence_blocks

D_MODEL = 32
MAX_SEQ_LEN = 64
LENGTH = 32
VOCAB = 11

BLOCKS = sequence_blocks()


def one_block_spec(entry) -> dict:
    return chain_spec(entry.name, d_model=D_MODEL, max_seq_len=MAX_SEQ_LEN,
                      allow_noncausal=not entry.is_causal(entry.defaults()))


def compiled(entry, seed=0):
    return compile_spec(one_block_spec(entry), vocab_size=VOCAB, seed=seed)


def bigram_batch(batch=4, length=LENGTH) -> torch.Tensor:
    """Sequences that follow a fixed random permutation: token t+1 = perm[token t]."""
    gen = torch.Generator().manual_seed(0)
    perm = torch.randperm(VOCAB, generator=gen)
    seqs = torch.empty(batch, length, dtype=torch.long)
    seqs[:, 0] = torch.randint(0, VOCAB, (batch,), generator=gen)
    for t in range(1, length):
        seqs[:, t] = perm[seqs[:, t - 1]]
    return seqs


def ids(entry) -> str:
    return entry.name


pytestmark = pytest.mark.skipif(not BLOCKS, reason="no sequence blocks registered yet")


@pytest.mark.parametrize("entry", BLOCKS, ids=ids)
def test_one_node_compiles_and_keeps_shapes(entry):
    model = compiled(entry)
    x = bigram_batch(2)
    assert model(x).shape == (2, LENGTH, VOCAB)
    block = entry.build(d_model=D_MODEL, max_seq_len=MAX_SEQ_LEN, layer_idx=0, seed=0, **entry.defaults())
    h = torch.randn(2, LENGTH, D_MODEL)
    assert block(h).shape == h.shape


@pytest.mark.parametrize("entry", BLOCKS, ids=ids)
def test_cost_params_equal_built_params(entry):
    params = entry.defaults()
    block = entry.build(d_model=D_MODEL, max_seq_len=MAX_SEQ_LEN, layer_idx=0, seed=0, **params)
    assert entry.cost(D_MODEL, MAX_SEQ_LEN, params).params == sum(p.numel() for p in block.parameters())
    spec = one_block_spec(entry)
    model = compile_spec(spec, vocab_size=VOCAB)
    assert validate_spec(spec, vocab_size=VOCAB).cost.params == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("entry", [b for b in BLOCKS if b.is_causal(b.defaults())], ids=ids)
def test_causal_blocks_never_look_ahead(entry):
    model = compiled(entry).eval()
    x = bigram_batch(1)
    with torch.no_grad():
        base = model(x)
        for t in (0, 7, LENGTH // 2, LENGTH - 2):
            changed = x.clone()
            changed[0, t + 1:] = (changed[0, t + 1:] + 3) % VOCAB
            out = model(changed)
            assert torch.allclose(out[0, : t + 1], base[0, : t + 1], atol=1e-5), f"future leaks into t<={t}"


@pytest.mark.parametrize("entry", [b for b in BLOCKS if b.recurrent], ids=ids)
def test_recurrent_step_equals_forward(entry):
    model = compiled(entry).eval()
    assert model.supports_step
    x = bigram_batch(2, 16)
    with torch.no_grad():
        full = model(x)
        state = model.init_state(2)
        steps = []
        for t in range(x.shape[1]):
            logits, state = model.step(x[:, t], state)
            steps.append(logits)
    torch.testing.assert_close(torch.stack(steps, 1), full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("entry", BLOCKS, ids=ids)
def test_gradients_are_finite(entry):
    model = compiled(entry)
    x = bigram_batch(2)
    logits = model(x)
    loss = F.cross_entropy(logits[:, :-1].flatten(0, 1), x[:, 1:].flatten()) + model.aux_loss()
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("entry", BLOCKS, ids=ids)
def test_a_tiny_model_with_the_block_learns_a_bigram_task(entry):
    torch.manual_seed(0)
    model = compiled(entry)
    x = bigram_batch()
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    losses = []
    for _ in range(30):
        logits = model(x)
        loss = F.cross_entropy(logits[:, :-1].flatten(0, 1), x[:, 1:].flatten())
        optimiser.zero_grad()
        (loss + model.aux_loss()).backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0], f"loss {losses[0]:.3f} -> {losses[-1]:.3f}"
