"""Blocks of the convolution family: long convolutions (Hyena, H3) and short gated ones; the
registry lists them (``python -m blocks.catalog``).

Attention-free mixers built from causal convolutions (long ones computed with FFTs padded to
2L so nothing wraps around) and multiplicative gates. The compiler adds the pre-norm and
the residual; these modules are the mixers alone, (B, L, D) -> (B, L, D).

One module per block: ``<block>.py`` holds its registry entry (plain Python) and ``<block>_nn.py``
its torch module; ``common.py`` / ``common_nn.py`` hold what several blocks share.
"""
