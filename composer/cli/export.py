"""`composer export SPEC.json --format py|svg|png|json`: write a spec as PyTorch source, a diagram or normalised JSON.

The spec is validated first; an invalid spec prints one line per problem (naming the
node and field) on stderr and exits with status 2. Output goes to ``--out`` or to
stdout (binary PNG to stdout only when stdout is not a terminal).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from composer.cli.train import EXIT_BAD_INPUT, BadInput, load_spec

FORMATS = ("py", "svg", "png", "json")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("spec", metavar="SPEC.json", help="the model spec (JSON)")
    parser.add_argument("--format", choices=FORMATS, required=True,
                        help="py: PyTorch source; svg/png: diagram; json: the normalised spec (defaults filled in)")
    parser.add_argument("--out", metavar="FILE", default=None, help="write here instead of stdout")
    parser.add_argument("--vocab-size", type=int, default=256,
                        help="vocabulary of the exported model (it comes from the task when training; default 256)")


def render(spec: dict, fmt: str, vocab_size: int) -> bytes:
    """The exported bytes; raises BadInput listing every spec error."""
    from blocks.spec import validate_spec

    result = validate_spec(spec, vocab_size=vocab_size)
    if not result.ok:
        raise BadInput([f"{'node ' + repr(e.node_id) + ' ' if e.node_id else ''}{e.field}: {e.message}" for e in result.errors])
    if fmt == "json":
        return (json.dumps(result.spec if result.spec is not None else spec, indent=2) + "\n").encode("utf-8")
    if fmt == "py":
        from blocks.export import to_python

        return to_python(spec, vocab_size).encode("utf-8")
    from blocks.diagram import render as render_diagram

    return render_diagram(spec, fmt)


def run(args: argparse.Namespace) -> int:
    if args.vocab_size < 2:
        print("composer export: --vocab-size: must be >= 2", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        data = render(load_spec(args.spec), args.format, args.vocab_size)
    except BadInput as exc:
        for line in exc.lines:
            print(f"composer export: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_bytes(data)
    elif args.format == "png" and sys.stdout.isatty():
        print("composer export: refusing to write PNG to a terminal; use --out FILE or a pipe", file=sys.stderr)
        return EXIT_BAD_INPUT
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
    return 0
