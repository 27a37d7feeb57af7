"""The hierarchy family: the `chunk` group, a causal two-level model of the sequence.

The sequence is cut into chunks of `chunk_size` tokens (right-padded). The `local`
sub-graph runs inside each chunk independently; each chunk is summarised to one vector
(`mean`, `last` token, or `attention` pooling with a learned query); the optional
`global` sub-graph runs over the chunk summaries; the result is shifted right by one
chunk, so chunk i sees only summaries of chunks < i, and added to every token of the
chunk. Causal whenever the children are: nothing of chunk i reaches a token before it.
In the spirit of Block-Recurrent Transformers (Hutchins et al. 2022) and MEGABYTE (Yu et
al. 2023). The compiler builds the sub-graphs and hands them to ``ChunkGroup``.

One module per block: ``<block>.py`` holds its registry entry (plain Python) and ``<block>_nn.py``
its torch module; ``common.py`` / ``common_nn.py`` hold what several blocks share.
"""
