"""Blocks of the recurrent family: linear recurrences with a matrix or vector state (retention,
RWKV, gated linear attention, delta rule) and classic RNN cells; the registry lists them
(``python -m blocks.catalog``).

Most are the mixer only (the compiler adds the pre-norm and the residual); RWKV is a whole
RWKV-4 layer with both of its residual branches. Forward maps (batch, length, d_model) to the
same shape, and ``init_state`` / ``step`` run the same computation one token at a time.

One module per block: ``<block>.py`` holds its registry entry (plain Python) and ``<block>_nn.py``
its torch module; ``common.py`` / ``common_nn.py`` hold what several blocks share.
"""
