"""Data files shipped with the workers (a package so that installs include them): see LICENSE.md."""
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
BUILTIN_CORPUS_PATH = DATA_DIR / "stdlib_docstrings.txt"
