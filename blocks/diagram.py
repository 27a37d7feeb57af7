"""Draw a spec as a graphviz diagram: blocks coloured by family, parameters per node, groups as clusters.

``to_dot(spec)`` returns graphviz (DOT) source; ``render(spec, fmt)`` runs it through the
``graphviz`` package (which needs the ``dot`` binary) and returns SVG or PNG bytes. Drafts
that do not validate are drawn too, as far as their nodes and edges can be read, so the
editor can show what is wrong; parameter counts appear only for valid specs.
"""
from __future__ import annotations

from typing import Any

from blocks.library.hierarchy.chunk import GLOBAL_SLOT, LOCAL_SLOT
from blocks.registry import UnknownBlockType, get_block
from blocks.spec import GROUP_SLOTS, validate_spec

FAMILY_COLOURS = {
    "attention": "#f6bd60",
    "ssm": "#84c7ae",
    "recurrent": "#f7d6e0",
    "convolution": "#b8d8ba",
    "moe": "#f28482",
    "memory": "#cdb4db",
    "hierarchy": "#a2d2ff",
    "mlp": "#dde5ed",
    "structural": "#ffffff",
}
UNKNOWN_COLOUR = "#e5e5e5"
FORMATS = ("svg", "png")


def _quote(text: Any) -> str:
    """A DOT double-quoted string; escapes quotes and backslashes so user text cannot break out."""
    clean = str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ").replace("\r", " ")
    return f'"{clean}"'


def _human(count: int) -> str:
    for unit, size in (("B", 10**9), ("M", 10**6), ("k", 10**3)):
        if count >= size:
            return f"{count / size:.1f}{unit}"
    return str(count)


def to_dot(spec: Any, *, vocab_size: int = 256) -> str:
    """Graphviz source for ``spec``; never raises on malformed input (draws what it can)."""
    result = validate_spec(spec, vocab_size=vocab_size)
    params_by_id = {}
    if result.cost is not None:
        params_by_id = {row["id"]: row["params"] for row in result.cost.per_node}
    raw_nodes = spec.get("nodes") if isinstance(spec, dict) else None
    raw_edges = spec.get("edges") if isinstance(spec, dict) else None
    nodes: dict[str, dict] = {}
    for node in raw_nodes if isinstance(raw_nodes, list) else []:
        if isinstance(node, dict) and isinstance(node.get("id"), str) and node["id"] not in nodes:
            nodes[node["id"]] = node
    dot_ids = {node_id: f"n{index}" for index, node_id in enumerate(nodes)}
    edges = [tuple(e) for e in (raw_edges if isinstance(raw_edges, list) else [])
             if isinstance(e, list) and len(e) == 2 and all(isinstance(x, str) and x in nodes for x in e)]

    children: dict[tuple, list[str]] = {}
    for node_id, node in nodes.items():
        parent = node.get("parent")
        if isinstance(parent, str) and parent in nodes and parent != node_id:
            slot = node.get("slot") if isinstance(node.get("slot"), str) else None
            children.setdefault((parent, slot), []).append(node_id)
    groups = {g for (g, _) in children if nodes[g].get("type") in GROUP_SLOTS}

    def ends(group_id: str) -> tuple[str | None, str | None]:
        """The children an edge into / out of a group attaches to (its main slot's source and sink)."""
        slot = LOCAL_SLOT if nodes[group_id].get("type") == "chunk" else None
        members = children.get((group_id, slot)) or next(
            (ids for (g, _), ids in children.items() if g == group_id), [])
        return _source(members, edges), _sink(members, edges)

    lines = [
        "digraph composer {",
        '  graph [rankdir=TB, compound=true, fontname="Helvetica", fontsize=10, nodesep=0.3, ranksep=0.35];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, color="#555555"];',
        '  edge [color="#555555", arrowsize=0.7];',
    ]
    if not result.ok:
        lines.append(f"  label={_quote(f'{len(result.errors)} problem(s): not a valid model yet')};")
        lines.append('  fontcolor="#b00020";')

    drawn: set[str] = set()

    def draw(node_id: str, indent: str, depth: int) -> None:
        if node_id in drawn or depth > 16:
            return
        drawn.add(node_id)
        node = nodes[node_id]
        block_type = node.get("type") if isinstance(node.get("type"), str) else "?"
        try:
            entry = get_block(block_type)
            family, colour = entry.family, FAMILY_COLOURS.get(entry.family, UNKNOWN_COLOUR)
        except UnknownBlockType:
            family, colour = "unknown", UNKNOWN_COLOUR
        given = node.get("params") if isinstance(node.get("params"), dict) else {}
        if node_id in groups:
            title = f"{block_type} {node_id}"
            if block_type == "repeat":
                title += f" × {given.get('times', get_block('repeat').defaults()['times'])}"
            elif block_type == "chunk":
                title += f" (size {given.get('chunk_size', get_block('chunk').defaults()['chunk_size'])})"
            lines.append(f"{indent}subgraph cluster_{dot_ids[node_id]} {{")
            lines.append(f"{indent}  label={_quote(title)}; style=\"rounded,filled\"; "
                         f"fillcolor=\"{FAMILY_COLOURS['hierarchy'] if block_type == 'chunk' else '#f7f7f7'}\";")
            for (group, slot), members in children.items():
                if group != node_id:
                    continue
                if slot is not None:
                    lines.append(f"{indent}  subgraph cluster_{dot_ids[node_id]}_{slot} {{")
                    lines.append(f"{indent}    label={_quote(slot)}; style=dashed;")
                for member in members:
                    draw(member, indent + ("    " if slot else "  "), depth + 1)
                if slot is not None:
                    lines.append(f"{indent}  }}")
            lines.append(f"{indent}}}")
            return
        label = f"{node_id}\\n{block_type}"
        shown_params = {k: v for k, v in given.items() if isinstance(v, (int, float, str, bool))}
        if shown_params:
            label += "\\n" + ", ".join(f"{k}={v}" for k, v in list(shown_params.items())[:4])
        if node_id in params_by_id:
            label += f"\\n{_human(params_by_id[node_id])} params"
        safe = label.replace('"', "'")
        shape = "ellipse" if block_type in ("input", "output") else "box"
        lines.append(f"{indent}{dot_ids[node_id]} [label=\"{_escape_label(safe)}\", fillcolor=\"{colour}\", "
                     f"shape={shape}, tooltip={_quote(family)}];")

    for node_id, node in nodes.items():
        parent = node.get("parent")
        if not (isinstance(parent, str) and parent in nodes and parent != node_id):
            draw(node_id, "  ", 0)
    for node_id in nodes:  # children of broken parents: draw them loose rather than not at all
        draw(node_id, "  ", 0)

    for source, target in edges:
        attrs = []
        tail, head = source, target
        if source in groups:
            tail = ends(source)[1] or source
            attrs.append(f"ltail=cluster_{dot_ids[source]}")
        if target in groups:
            head = ends(target)[0] or target
            attrs.append(f"lhead=cluster_{dot_ids[target]}")
        if tail in groups or head in groups or tail == head:
            attrs = []  # an empty group has no child to attach to
        suffix = f" [{', '.join(attrs)}]" if attrs else ""
        lines.append(f"  {dot_ids[tail]} -> {dot_ids[head]}{suffix};")
    for group_id in groups:
        if nodes[group_id].get("type") != "chunk":
            continue
        local = children.get((group_id, LOCAL_SLOT), [])
        global_ = children.get((group_id, GLOBAL_SLOT), [])
        sink, source = _sink(local, edges), _source(global_, edges)
        if sink and source:
            lines.append(f"  {dot_ids[sink]} -> {dot_ids[source]} [style=dashed, label=\"summaries\", "
                         "fontsize=8];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _escape_label(label: str) -> str:
    # Keep our own "\n" line breaks; escape every other backslash from user text.
    return label.replace("\\n", "\x00").replace("\\", "\\\\").replace("\x00", "\\n")


def _source(members: list[str], edges) -> str | None:
    inner = set(members)
    has_incoming = {t for s, t in edges if s in inner and t in inner}
    return next((m for m in members if m not in has_incoming), members[0] if members else None)


def _sink(members: list[str], edges) -> str | None:
    inner = set(members)
    has_outgoing = {s for s, t in edges if s in inner and t in inner}
    return next((m for m in reversed(members) if m not in has_outgoing), members[-1] if members else None)


def render(spec: Any, fmt: str = "svg", *, vocab_size: int = 256) -> bytes:
    """The diagram as SVG or PNG bytes (needs graphviz's ``dot`` on the PATH)."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    import graphviz

    return graphviz.Source(to_dot(spec, vocab_size=vocab_size)).pipe(format=fmt)
