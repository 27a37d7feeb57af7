"""Blocks of the recurrent family: RetNet multi-scale retention and RWKV-4 (time-mix + channel-mix).

RetNet is the mixer only (the compiler adds the pre-norm and the residual); RWKV is a whole
RWKV-4 layer with both of its residual branches. Forward maps (batch, length, d_model) to the
same shape, and ``init_state`` / ``step`` run the same computation one token at a time.

One module per block: ``<block>.py`` holds its registry entry (plain Python) and ``<block>_nn.py``
its torch module; ``common.py`` / ``common_nn.py`` hold what several blocks share.
"""
