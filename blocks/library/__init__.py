"""Every block type: a package per family (``blocks/library/<family>/``) and two modules per block.

``<block>.py`` holds the block's registry entry (params, cost model, state, checks, flags, paper) and is
plain Python; ``<block>_nn.py`` holds its torch module, which the entry names by dotted path and which
is imported only when a model is built. ``common.py`` / ``common_nn.py`` hold what several blocks of a
family share. ``load_entries()`` imports every module but the ``*_nn`` ones, so the registry finds a new
block by its file alone: adding a block touches its own modules and nothing else.
"""
from __future__ import annotations

import importlib
import pkgutil

TORCH_MODULE_SUFFIX = "_nn"


def entry_modules() -> list[str]:
    """Dotted names of every module of blocks/library that the registry imports (no ``*_nn`` module)."""
    names = []
    for family in pkgutil.iter_modules(__path__):
        if not family.ispkg:
            continue
        package = importlib.import_module(f"{__name__}.{family.name}")
        names += [f"{package.__name__}.{module.name}" for module in pkgutil.iter_modules(package.__path__)
                  if not module.name.endswith(TORCH_MODULE_SUFFIX)]
    return sorted(names)


def load_entries() -> None:
    """Import every entry module; each registers its block on import."""
    for name in entry_modules():
        importlib.import_module(name)
