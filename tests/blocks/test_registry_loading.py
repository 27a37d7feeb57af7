"""The registry loads once, completely, even when threads race to use it first."""
import subprocess
import sys

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
