"""Blocks of the attention family (softmax, sparse, low-rank, kernel and Fourier mixers); which ones
is the registry's to say (``python -m blocks.catalog``), not this docstring's.

Each block is the token mixer only (projections, mixing, output projection); the compiler
adds the pre-norm and residual. Sparse and low-rank variants compute blockwise so that
memory grows like L·(keys per query), never L×L; their ``dense_reference`` methods run the
same pattern as plain masked attention for tests. Random structure (BigBird's random
blocks, Performer's features) is drawn once from a ``torch.Generator`` seeded with ``seed``
and stored in buffers, so it is fixed per model and not counted as parameters.

Cost conventions (see ``blocks.registry.Cost``): flops count 2 per multiply-add;
activation bytes count float32 tensors autograd keeps for one sequence, including the
attention probabilities of the plain (math) SDPA path over the keys each query can see.

One module per block: ``<block>.py`` holds its registry entry (plain Python) and ``<block>_nn.py``
its torch module; ``common.py`` / ``common_nn.py`` hold what several blocks share.
"""
