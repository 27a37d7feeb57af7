"""Blocks of the moe family: token-choice mixture-of-experts MLPs (Switch top-1, GLaM top-k).

A router scores each token against E expert FFNs; each token goes to its top-k experts
and the outputs are mixed by the router's gates. Experts have a fixed capacity, so some
token-expert assignments are dropped; a dropped assignment contributes zero (the
compiler's residual carries the token through).

Causality. In Switch/GShard, whether token t is dropped depends on which tokens
(anywhere in the batch) were routed first, i.e. on the future. Here the capacity is
per sequence, C = ceil(capacity_factor * top_k * L / E) (at most L), and assignments
claim expert slots in position order (token 0's choices first, then token 1's, ...;
within a token, its best choice first). Token t's slot in expert e is the number of
earlier assignments to e, so its fate depends only on tokens <= t (and on L, which is
not content). Slots come from a cumulative sum over one-hot assignments: no loops.

Auxiliary losses, set on ``self.aux_loss`` in forward, already weighted:
    load balancing (Switch, eq. 4): E * sum_i f_i * P_i, where f_i is the fraction of
        the router's assignments that pick expert i (before capacity dropping) and P_i
        the mean router probability of expert i, over all tokens in the batch;
    router z-loss (ST-MoE, eq. 5): mean over tokens of logsumexp(logits)^2.

One module per block: ``<block>.py`` holds its registry entry (plain Python) and ``<block>_nn.py``
its torch module; ``common.py`` / ``common_nn.py`` hold what several blocks share.
"""
