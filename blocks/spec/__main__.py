"""python -m blocks.spec [path]: regenerate the stored JSON Schema (docs/spec.schema.json by default)."""
import sys
from pathlib import Path

from blocks.spec.schema import SCHEMA_PATH, write_spec_schema

print(write_spec_schema(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_PATH))
