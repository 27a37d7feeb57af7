"""The ``composer`` command: ``up``, ``train``, ``card``, ``export``, ``bench``.

Each subcommand lives in its own module and is imported only when used, so
``composer train`` never loads Django and ``composer up`` never loads torch.
"""
from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "up": ("composer.cli.up", "serve the whole app (web, websockets, one worker) on the embedded default"),
    "train": ("composer.cli.train", "train a spec headless on a task, with a progress bar and a JSON summary"),
    "card": ("composer.cli.card", "a report card: scale a spec to a budget, train it on a task suite, print the table"),
    "export": ("composer.cli.export", "write a spec as PyTorch source, a diagram (svg/png) or normalised JSON"),
    "bench": ("composer.cli.bench", "run the benchmarks in bench/ and print their tables"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="composer", description="Design, train and compare sequence models.")
    sub = parser.add_subparsers(dest="command", required=True)
    modules = {}
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        modules[name] = module
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    args = parser.parse_args(argv)
    return int(modules[args.command].run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
