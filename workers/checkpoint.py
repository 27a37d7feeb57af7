"""Checkpoints: the trained weights (safetensors), the exact spec and the run summary, side by side.

Layout of ``out_dir``::

    model.safetensors   weights; tied tensors stored once (safetensors.torch.save_model)
    spec.json           the spec exactly as trained
    summary.json        the dict ``train()`` returned

safetensors, not pickle: loading a checkpoint can never run code, so checkpoints
from other users are safe to open.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_model, save_model

from workers.json_values import json_safe

WEIGHTS_FILE = "model.safetensors"
SPEC_FILE = "spec.json"
SUMMARY_FILE = "summary.json"


def save_checkpoint(out_dir: str | os.PathLike, model: torch.nn.Module, spec: dict, summary: dict) -> Path:
    """Write weights, spec and summary to ``out_dir`` (created if needed); returns the weights path."""
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    weights = directory / WEIGHTS_FILE
    save_model(model, str(weights), metadata={"format": "pt", "task": str(summary.get("task"))})
    (directory / SPEC_FILE).write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    summary = dict(summary, checkpoint=str(weights))
    (directory / SUMMARY_FILE).write_text(json.dumps(json_safe(summary), indent=2, sort_keys=True, default=str) + "\n",
                                          encoding="utf-8")
    return weights


def load_checkpoint(out_dir: str | os.PathLike, model: torch.nn.Module) -> dict:
    """Load weights from ``out_dir`` into ``model`` (strictly: every tensor must match); returns the summary."""
    directory = Path(out_dir)
    missing, unexpected = load_model(model, str(directory / WEIGHTS_FILE), strict=True)
    if missing or unexpected:  # strict=True raises first; kept for safetensors versions that only report
        raise ValueError(f"checkpoint does not fit the model: missing {missing}, unexpected {unexpected}")
    return json.loads((directory / SUMMARY_FILE).read_text(encoding="utf-8"))


def read_spec(out_dir: str | os.PathLike) -> dict:
    return json.loads((Path(out_dir) / SPEC_FILE).read_text(encoding="utf-8"))
