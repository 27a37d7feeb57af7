"""Blocks of the ssm family: state-space models, time-invariant (S4D, FFT convolution) and selective
(Mamba, Mamba-2); the registry lists them (``python -m blocks.catalog``).

Each block is the mixer only (the compiler adds the pre-norm and the residual): forward maps
(batch, length, d_model) to the same shape, and ``init_state`` / ``step`` run the same
computation one token at a time.

One module per block: ``<block>.py`` holds its registry entry (plain Python) and ``<block>_nn.py``
its torch module; ``common.py`` / ``common_nn.py`` hold what several blocks share.
"""
