"""The registry loads once, completely, even when threads race to use it first, and finds blocks by file."""
import subprocess
import sys
from pathlib import Path

import blocks.library
from blocks.library import TORCH_MODULE_SUFFIX, entry_modules
from blocks.registry import all_blocks


def test_registry_loads_completely_under_concurrent_first_use():
    """Threads racing to load the registry for the first time all see every block."""
    code = (
        "import threading\n"
        "from blocks.registry import all_blocks\n"
        "counts = []\n"
        "threads = [threading.Thread(target=lambda: counts.append(len(all_blocks()))) for _ in range(8)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "print(sorted(set(counts)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    expected = len(all_blocks())
    assert out.strip() == f"[{expected}]"


def test_the_registry_imports_every_entry_module_and_no_torch_module():
    """Discovery is by file: every module of blocks/library but the ``*_nn`` ones, so a new block's
    two files are all it takes."""
    library = Path(blocks.library.__file__).parent
    files = [p for p in library.glob("*/*.py") if p.name != "__init__.py"]
    assert sorted(entry_modules()) == sorted(f"blocks.library.{p.parent.name}.{p.stem}" for p in files
                                             if not p.stem.endswith(TORCH_MODULE_SUFFIX))
    assert len(files) > 2 * 20


def test_every_entry_names_its_torch_module_in_its_own_family():
    for entry in all_blocks():
        if entry.module is None:  # built by the compiler itself
            assert entry.structural, entry.name
            continue
        module_name = entry.module.rpartition(".")[0]
        assert module_name.startswith(f"blocks.library.{entry.family}."), entry.name
        assert module_name.endswith(TORCH_MODULE_SUFFIX), entry.name
        assert callable(entry.module_class()), entry.name
