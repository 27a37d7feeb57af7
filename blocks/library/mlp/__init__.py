"""Blocks of the mlp family: the position-wise feed-forward network (GELU or SwiGLU).

The compiler adds the pre-norm and residual; this module is the MLP alone. It acts on
each token independently, so it is trivially causal and has a (stateless) step form,
which lets hybrid models containing it run token by token.

One module per block: ``<block>.py`` holds its registry entry (plain Python) and ``<block>_nn.py``
its torch module; ``common.py`` / ``common_nn.py`` hold what several blocks share.
"""
