"""The exported PyTorch file runs where only torch is installed: a fresh venv (torch alone, no Composer on
its path) loads a checkpoint written by the run's checkpoint writer and prints the compiled model's logits.

The venv is created once under var/ (about 40 s, torch comes from the local wheel) and reused afterwards.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from blocks.compiler import compile_spec
from blocks.export import to_python
from tests.blocks.conftest import TINY_VOCAB, chain_spec, sequence_blocks
from workers.checkpoint import WEIGHTS_FILE, save_checkpoint

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / "var" / "export-venv"
TORCH_PIN = f"torch=={torch.__version__.split('+')[0]}"
PROMPT = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 3]


@pytest.fixture(scope="session")
def torch_only_python() -> Path:
    """A venv holding torch and nothing else of this project (created once, kept under var/)."""
    python = VENV / "bin" / "python"
    ready = VENV / ".ready"
    if not ready.exists() or ready.read_text() != TORCH_PIN:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", TORCH_PIN], check=True)
        ready.write_text(TORCH_PIN)
    return python


def run_export(python: Path, spec: dict, vocab_size: int, seed: int, tmp_path: Path) -> None:
    """Export ``spec``, save the compiled model's weights as a run does, run the file in the venv, compare."""
    source = to_python(spec, vocab_size, seed=seed)
    exported = tmp_path / "model.py"
    exported.write_text(source, encoding="utf-8")
    compiled = compile_spec(spec, vocab_size=vocab_size, seed=seed).eval()
    weights = save_checkpoint(tmp_path / "run", compiled, spec, {"task": "export-test"})
    assert weights.name == WEIGHTS_FILE
    # No PYTHONPATH, run from an empty directory: Composer's packages cannot be found.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    probe = subprocess.run([str(python), "-c", "import blocks"], cwd=cwd, env=env, capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'blocks'" in probe.stderr
    done = subprocess.run(
        [str(python), str(exported), "--weights", str(weights), "--prompt-ids", ",".join(map(str, PROMPT)), "--logits"],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    logits_line, next_line = done.stdout.strip().splitlines()[-2:]
    got = torch.tensor(json.loads(logits_line), dtype=torch.float64)
    with torch.no_grad():
        want = compiled(torch.tensor([PROMPT]))[0].double()
    assert got.shape == want.shape == (len(PROMPT), vocab_size)
    assert torch.allclose(got, want, rtol=0, atol=1e-6), (got - want).abs().max()
    assert next_line == f"next token: {int(want[-1].argmax())}"


def test_exported_hybrid_example_runs_with_only_torch(torch_only_python, tmp_path):
    spec = json.loads((ROOT / "examples" / "jamba_hybrid.json").read_text(encoding="utf-8"))
    run_export(torch_only_python, spec, vocab_size=50, seed=3, tmp_path=tmp_path)


def test_exported_model_with_every_block_runs_with_only_torch(torch_only_python, tmp_path):
    spec = chain_spec(*[b.name for b in sequence_blocks()], d_model=32, max_seq_len=32, allow_noncausal=True)
    run_export(torch_only_python, spec, vocab_size=TINY_VOCAB, seed=0, tmp_path=tmp_path)
