"""``composer bench [NAME ...]``: run the benchmark scripts in ``bench/`` (each prints its own table)."""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent.parent / "bench"


def available() -> dict[str, Path]:
    return {path.stem: path for path in sorted(BENCH_DIR.glob("*.py")) if not path.name.startswith("_")}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all); --list shows them")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    parser.add_argument("--quick", action="store_true", help="pass --quick to each script (smaller sizes)")


def run(args: argparse.Namespace) -> int:
    scripts = available()
    if args.list:
        for name, path in scripts.items():
            doc = (path.read_text().split('"""')[1].strip().splitlines() or [""])[0] if '"""' in path.read_text() else ""
            print(f"{name:24s} {doc}")
        return 0
    unknown = [name for name in args.names if name not in scripts]
    if unknown:
        print(f"composer bench: unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(scripts)}", file=sys.stderr)
        return 2
    status = 0
    for name in args.names or list(scripts):
        print(f"== bench/{name}.py", flush=True)
        argv = [sys.executable, str(scripts[name])] + (["--quick"] if args.quick else [])
        status |= subprocess.call(argv, cwd=BENCH_DIR.parent)
    return status
