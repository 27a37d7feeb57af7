"""The block catalogue (docs/blocks.md), generated from the registry so the docs never drift.

    python -m blocks.catalog > docs/blocks.md
"""
from __future__ import annotations

from blocks.registry import FAMILIES, all_blocks


def _param_row(param) -> str:
    if param.type == "choice":
        allowed = " / ".join(f"`{c}`" for c in param.choices)
    else:
        low = "" if param.min is None else f"{param.min:g}"
        high = "" if param.max is None else f"{param.max:g}"
        allowed = f"{low} … {high}" if (low or high) else ""
    default = f"`{param.default}`" + (" (scales with the model)" if param.context_default is not None else "")
    paper = "" if param.paper_value is None else f"`{param.paper_value}`"
    return f"| `{param.name}` | {param.type} | {default} | {paper} | {allowed} | {param.help} |"


def catalog_markdown() -> str:
    lines = [
        "# Block catalogue",
        "",
        "Generated from the block registry by `python -m blocks.catalog`; a test keeps it current.",
        "Every sequence block maps (batch, length, d_model) to the same shape and is wrapped",
        "pre-norm residual unless its entry says otherwise.",
        "",
        "| family | block | complexity | causal | recurrent form |",
        "| --- | --- | --- | --- | --- |",
    ]
    blocks = all_blocks()
    for block in blocks:
        causal = "yes" if block.causal is True else ("no" if block.causal is False else "by params")
        lines.append(f"| {block.family} | [`{block.name}`](#{block.name}) | {block.complexity} | {causal} | "
                     f"{'yes' if block.recurrent else 'no'} |")
    for family in FAMILIES:
        members = [b for b in blocks if b.family == family]
        if not members:
            continue
        lines += ["", f"## {family}"]
        for block in members:
            lines += ["", f"### {block.name}", "", f"**{block.title}.** {block.description}", "", f"Paper: {block.paper}", ""]
            if block.params:
                lines += ["| param | type | default | paper | range | help |", "| --- | --- | --- | --- | --- | --- |"]
                lines += [_param_row(p) for p in block.params]
            else:
                lines.append("No parameters.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(catalog_markdown(), end="")
