"""The inlined-library tail of an exported model file: the ``blocks`` modules it needs, as source, behind an import hook.

``inline_tail(roots, bindings)`` finds, with ``ast``, every ``blocks`` module that the ``roots`` modules
import (directly or not, parent packages included) and writes them into a ``_SOURCES`` table with a
``sys.meta_path`` finder that serves exactly those names, then the ``from ... import ...`` lines that
bind ``bindings`` for the code above. ``class_source(module, name)`` copies one class out of a module
that is not inlined whole (the compiler's ``PreNormResidual``). Nothing is hand-listed: the closure
follows the library's own imports, so a new block or op is exported without touching this file.
"""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

ROOT_PACKAGE = "blocks"

# Runs in the exported file: serves the inlined modules to ``import`` (and only those).
_HOOK = '''

class _InlinedBlocks(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports the ``blocks`` modules from ``_SOURCES`` (this file), so only torch must be installed."""

    def find_spec(self, name, path=None, target=None):
        if name not in _SOURCES:
            return None
        return importlib.util.spec_from_loader(name, self, is_package=name in _PACKAGES)

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        filename = f"<{__name__}:{module.__name__}>"
        linecache.cache[filename] = (len(_SOURCES[module.__name__]), None,
                                     _SOURCES[module.__name__].splitlines(True), filename)
        exec(compile(_SOURCES[module.__name__], filename, "exec"), module.__dict__)


sys.meta_path.insert(0, _InlinedBlocks())
'''


def _module_file(name: str) -> tuple[Path, bool] | None:
    """(source path, is a package) of a ``blocks`` module, or None when ``name`` is not a module."""
    try:
        found = importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None
    if found is None or not found.origin or not found.origin.endswith(".py"):
        return None
    return Path(found.origin), found.submodule_search_locations is not None


def _imported(name: str, tree: ast.Module, is_package: bool) -> set[str]:
    """The ``blocks`` modules a module's source imports (``from pkg import submodule`` included)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            out.add(module)
            out |= {f"{module}.{alias.name}" for alias in node.names if _module_file(f"{module}.{alias.name}")}
    return {m for m in out if m == ROOT_PACKAGE or m.startswith(ROOT_PACKAGE + ".")}


def import_closure(roots: list[str]) -> dict[str, tuple[str, bool]]:
    """name -> (source, is a package) for ``roots`` and every ``blocks`` module they import, parents included."""
    found: dict[str, tuple[str, bool]] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        where = _module_file(name)
        if where is None:
            raise ImportError(f"export: {name!r} is not a module of {ROOT_PACKAGE} with a .py source")
        path, is_package = where
        source = path.read_text(encoding="utf-8")
        found[name] = (source, is_package)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        todo += sorted(_imported(name, ast.parse(source, str(path)), is_package))
    return dict(sorted(found.items()))


def class_source(module: str, name: str) -> str:
    """The source of class ``name`` as written in ``module``."""
    path, _ = _module_file(module)
    source = path.read_text(encoding="utf-8")
    for node in ast.parse(source).body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return ast.get_source_segment(source, node)
    raise LookupError(f"export: no class {name!r} in {module}")


def _literal(source: str) -> str:
    """``source`` as a readable triple-quoted string literal (checked to read back exactly)."""
    body = source.replace("\\", "\\\\").replace("'''", "\\'\\'\\'")
    if body.endswith("'"):
        body = body[:-1] + "\\'"
    literal = f"'''{body}'''"
    if ast.literal_eval(literal) != source:
        raise ValueError("export: a module's source does not survive quoting")
    return literal


def inline_tail(roots: list[str], bindings: dict[str, tuple[str, str]]) -> str:
    """The file's tail: the closure of ``roots`` as a source table, the import hook, and
    ``local = module.attribute`` for each ``bindings[local] = (module, attribute)``."""
    modules = import_closure(roots)
    table = "\n".join(f"    {name!r}: {_literal(source)},\n" for name, (source, _) in modules.items())
    packages = sorted(name for name, (_, is_package) in modules.items() if is_package)
    binds = "\n".join(f"from {module} import {attribute}" + (f" as {local}" if local != attribute else "")
                      for local, (module, attribute) in sorted(bindings.items()))
    return (f"# The {ROOT_PACKAGE} modules this model uses ({len(modules)}), inlined from Composer's library,\n"
            f"# so this file runs with only torch installed.\n"
            "import importlib.abc\nimport importlib.util\nimport linecache\nimport sys\n\n"
            f"_SOURCES = {{\n{table}}}\n_PACKAGES = {{{', '.join(map(repr, packages))}}}\n{_HOOK}\n{binds}\n")
