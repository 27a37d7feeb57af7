"""Structural blocks: `input` (token embedding), `output` (final norm + LM head), `merge`,
`repeat` and an explicit `norm`.

These shape the graph rather than mix tokens. Their costs cover only what depends on
d_model and their own params; the parts that depend on the vocabulary or on the whole
model (token embedding, LM head, the final norm's kind, a repeat's body) are added by
``blocks.spec``, which knows the spec. The compiler (``blocks.compiler``) builds
`input`, `output` and `repeat` itself because they need the vocabulary or a sub-graph;
`merge` and `norm` have ordinary ``build`` functions.

One module per block: ``<block>.py`` holds its registry entry (plain Python) and ``<block>_nn.py``
its torch module; ``common.py`` / ``common_nn.py`` hold what several blocks share.
"""
