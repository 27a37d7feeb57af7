"""Rebuilds ``stdlib_docstrings.txt``, the English corpus shipped for the ``char_lm`` task.

The text is the docstrings of CPython 3.11's standard library (modules, classes and
functions, in a fixed order), which are distributed under the PSF License Agreement,
a permissive licence that allows copying and redistribution with the notice kept
(see ``LICENSE.md``). We assemble it from the local interpreter because the product
must never download data, and docstrings are plain, varied, well-edited English prose.

Run: ``python workers/data/build_corpus.py`` (with CPython 3.11; output is deterministic).
"""
from __future__ import annotations

import ast
import sys
import sysconfig
from pathlib import Path

MAX_BYTES = 1_000_000
MIN_DOCSTRING_CHARS = 200  # shorter ones are mostly one-line signatures, poor prose
OUTPUT = Path(__file__).with_name("stdlib_docstrings.txt")
SKIP_PARTS = {"test", "tests", "idlelib", "lib2to3", "site-packages", "turtledemo", "ensurepip", "pydoc_data"}


def docstrings(source: str):
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            text = ast.get_docstring(node, clean=True)
            if text and len(text) >= MIN_DOCSTRING_CHARS and text.isascii() and ">>>" not in text:
                yield text


def main() -> int:
    if sys.version_info[:2] != (3, 11):
        print("build with CPython 3.11 so the corpus stays the same", file=sys.stderr)
        return 1
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    pieces, size, seen = [], 0, set()
    for path in sorted(stdlib.rglob("*.py")):
        if SKIP_PARTS & set(path.relative_to(stdlib).parts):
            continue
        try:
            found = list(docstrings(path.read_text(encoding="utf-8")))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for text in found:
            if text in seen:
                continue
            seen.add(text)
            if size + len(text) + 2 > MAX_BYTES:
                break
            pieces.append(text)
            size += len(text) + 2
    OUTPUT.write_text("\n\n".join(pieces) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes, {len(pieces)} docstrings)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
