"""Where a run trains: the device's name, the processor's name and the library versions.

The one answer to "what machine and software produced this result", used by the trainer (its
result's ``device_name`` and ``versions``), by the Celery task that records a run's environment
before training, and by a worker's registration (``/healthz``'s device). Knows nothing of Django:
what device is wanted is passed in.
"""
from __future__ import annotations

import platform
import subprocess
from importlib import metadata

# The libraries whose versions a result depends on (plus Python), recorded with every run.
VERSIONED_PACKAGES = ("torch", "numpy", "composer", "celery", "django", "channels")


def cpu_name() -> str:
    """The processor's model name (/proc/cpuinfo), else what ``platform`` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # not Linux
        pass
    return platform.processor() or platform.machine() or "cpu"


def library_versions() -> dict:
    """``{"python": ..., "torch": ..., ...}``; a package that is not installed is left out."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


def device_name(device) -> str:
    """The name of a ``torch.device`` the trainer chose: the GPU's, or the processor's."""
    if device.type == "cuda":
        import torch

        return torch.cuda.get_device_name(device)
    return cpu_name()


def visible_device(wanted: str = "auto") -> tuple[str, str]:
    """("cuda", GPU name) or ("cpu", processor name) for ``wanted`` (auto | cpu | cuda), without
    initialising CUDA: it asks nvidia-smi, so a Celery main process can call it before its pool
    children fork (CUDA does not survive a fork)."""
    if wanted in ("auto", "cuda"):
        try:
            names = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                                   capture_output=True, text=True, timeout=5).stdout.splitlines()
            if names and names[0].strip():
                return "cuda", names[0].strip()
        except (OSError, subprocess.SubprocessError):  # no driver, no GPU
            pass
    return "cpu", cpu_name()
