"""DeltaNet and Gated DeltaNet (``deltanet``): its registry entry with params, cost model and checks.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.recurrent.deltanet_nn.DeltaNet``, is imported only when a model is built."""
from __future__ import annotations

from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register


def deltanet_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, H, gated = d_model, params["heads"], params["gated"]
    V = int(d * params["expand_v"])
    dk, dv = d // H, V // H
    matrices = 2 * d * d + 2 * d * V + d * H + (d * H + d * V if gated else 0)
    n_params = matrices + dv + (2 * H if gated else 0)
    T = min(seq_len, params["chunk_size"])
    # Per token per head: A and the q.k scores (2 T dk each), the solve for U and W (T (dv + dk)),
    # scores times pseudo-values (2 T dv), and reading/updating the state (W S, q S, K^T U~: 6 dk dv).
    memory = H * (4 * T * dk + T * (dv + dk) + 2 * T * dv + 6 * dk * dv)
    flops = 2 * matrices + memory + 10 * V + 6 * d
    # Kept per token: q, k, v, beta, U, W, outputs, gates; plus the (T) rows of A, T and the scores.
    per_token = 3 * d + 4 * V + 2 * H + H * 3 * T
    return Cost(n_params, float(flops), float(seq_len * per_token * BYTES_PER_FLOAT))


def deltanet_state(d_model: int, seq_len: int, params: dict) -> float:
    return float(d_model * int(d_model * params["expand_v"]) // params["heads"] * BYTES_PER_FLOAT)


def deltanet_check(d_model: int, max_seq_len: int, params: dict):
    heads, V = params["heads"], int(d_model * params["expand_v"])
    if d_model % heads or V % heads or V == 0:
        yield "heads", f"heads ({heads}) must divide d_model ({d_model}) and the value width " \
                       f"({V} = d_model * expand_v)"


register(
    BlockType(
        name="deltanet",
        family="recurrent",
        title="DeltaNet / Gated DeltaNet",
        description="Linear attention whose memory is edited by the delta rule "
        "(S_t = alpha_t S_{t-1}(I - beta_t k_t k_t^T) + beta_t v_t k_t^T; alpha = 1 unless gated): "
        "L2-normalised q and k, beta = sigmoid; chunked form via the WY/UT representation for training, "
        "O(1)-state recurrence for generation. Gated adds Mamba-2's per-head decay and a swish output gate. "
        "Adaptation: the reference layers' short convolutions on q, k, v are left out.",
        paper="Schlag, Irie, Schmidhuber. Linear Transformers Are Secretly Fast Weight Programmers. 2021. "
        "arXiv:2102.11174; Yang, Wang, Zhang, Shen, Kim. Parallelizing Linear Transformers with the Delta "
        "Rule over Sequence Length. 2024. arXiv:2406.06484; Yang, Kautz, Hatamizadeh. Gated Delta Networks. "
        "2024. arXiv:2412.06464",
        params=(
            Param("heads", "int", 4, "memory heads (DeltaNet: 4)", min=1, max=64),
            Param("expand_v", "float", 1.0, "value width = expand_v * d_model (DeltaNet 1, Gated DeltaNet 2)",
                  min=0.125, max=4.0),
            Param("gated", "bool", False, "Gated DeltaNet: a data-dependent decay alpha_t on the memory "
                  "and a swish output gate"),
            Param("chunk_size", "int", 64, "chunk length of the chunked form (paper: 64)", min=1, max=1024),
        ),
        module="blocks.library.recurrent.deltanet_nn.DeltaNet",
        cost=deltanet_cost,
        state=deltanet_state,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        check=deltanet_check,
        tags=("linear-attention", "delta-rule", "gated"),
    )
)
