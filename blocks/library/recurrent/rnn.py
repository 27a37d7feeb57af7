"""LSTM / GRU (``rnn``): its registry entry with params and cost model.

Plain Python, read by the registry without torch; the module it builds,
``blocks.library.recurrent.rnn_nn.RNN``, is imported only when a model is built."""
from __future__ import annotations

from blocks.registry import BYTES_PER_FLOAT, BlockType, Cost, Param, register

GATES = {"lstm": 4, "gru": 3}


def rnn_cost(d_model: int, seq_len: int, params: dict) -> Cost:
    d, hidden, gates = d_model, params["hidden_factor"] * d_model, GATES[params["cell"]]
    n_params = gates * hidden * (d + hidden + 2) + hidden * d
    flops = 2 * (gates * hidden * (d + hidden) + hidden * d) + 12 * gates * hidden
    # Kept per token: the gate pre-activations and activations, h (and c).
    per_token = 2 * gates * hidden + 2 * hidden + d
    return Cost(n_params, float(flops), float(seq_len * per_token * BYTES_PER_FLOAT))


def rnn_state(d_model: int, seq_len: int, params: dict) -> float:
    hidden = params["hidden_factor"] * d_model
    return float((2 if params["cell"] == "lstm" else 1) * hidden * BYTES_PER_FLOAT)  # h (and c)


register(
    BlockType(
        name="rnn",
        family="recurrent",
        title="LSTM / GRU",
        description="A classic gated recurrent layer, LSTM (cell and hidden state) or GRU, then a projection "
        "back to d_model. Nonlinear in its state, so it has no parallel or chunked form: training runs the "
        "step loop over the sequence (only the input projections are computed for every position at once).",
        paper="Hochreiter, Schmidhuber. Long Short-Term Memory. Neural Computation 1997 (forget gate: Gers, "
        "Schmidhuber, Cummins 2000); Cho et al. Learning Phrase Representations using RNN Encoder-Decoder. "
        "2014. arXiv:1406.1078",
        params=(
            Param("cell", "choice", "lstm", "lstm: gates i, f, g, o and a cell state; gru: gates r, z, n",
                  choices=("lstm", "gru")),
            Param("hidden_factor", "int", 1, "hidden width = hidden_factor * d_model", min=1, max=4),
        ),
        module="blocks.library.recurrent.rnn_nn.RNN",
        cost=rnn_cost,
        state=rnn_state,
        complexity="O(L)",
        causal=True,
        recurrent=True,
        tags=("rnn", "gated"),
    )
)
