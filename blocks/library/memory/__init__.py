"""Blocks of the memory family: persistent memory tokens, Transformer-XL segment recurrence,
and a content-addressed key-value memory read head.

Like the attention blocks, each is the mixer only (the compiler adds pre-norm and residual),
built from the same multi-head projections, and each has a step form that reproduces
``forward`` token by token.

One module per block: ``<block>.py`` holds its registry entry (plain Python) and ``<block>_nn.py``
its torch module; ``common.py`` / ``common_nn.py`` hold what several blocks share.
"""
