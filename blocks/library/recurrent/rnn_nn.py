"""LSTM / GRU (``rnn``) as a torch module. Its registry entry (params, cost model) is
``blocks.library.recurrent.rnn``; this module is imported only when a model is built."""
from __future__ import annotations

import math

import torch
from torch import nn

from blocks.library.ssm.common_nn import seeded_init
from blocks.ops.rnn_cells import gru, gru_step, lstm, lstm_step

GATES = {"lstm": 4, "gru": 3}


class RNN(nn.Module):
    """One LSTM or GRU layer (weights as torch.nn.LSTM / GRU hold them, initialised as they do,
    U(-1/sqrt(hidden), 1/sqrt(hidden))) and a projection of the hidden state back to d_model.
    There is no parallel form: ``forward`` is the step loop; ``step`` carries (h, c) or (h,)."""

    def __init__(self, d_model: int, *, max_seq_len: int, layer_idx: int = 0, seed: int = 0,
                 cell: str = "lstm", hidden_factor: int = 1):
        super().__init__()
        assert cell in GATES, f"cell must be one of {sorted(GATES)}"
        assert hidden_factor >= 1, "hidden_factor must be at least 1"
        self.cell, self.hidden = cell, hidden_factor * d_model
        rows, bound = GATES[cell] * self.hidden, 1 / math.sqrt(self.hidden)
        with seeded_init(seed):
            self.weight_ih = nn.Parameter(torch.empty(rows, d_model).uniform_(-bound, bound))
            self.weight_hh = nn.Parameter(torch.empty(rows, self.hidden).uniform_(-bound, bound))
            self.bias_ih = nn.Parameter(torch.empty(rows).uniform_(-bound, bound))
            self.bias_hh = nn.Parameter(torch.empty(rows).uniform_(-bound, bound))
            self.out_proj = nn.Linear(self.hidden, d_model, bias=False)

    def _weights(self):
        return self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        run = lstm if self.cell == "lstm" else gru
        return self.out_proj(run(x, *self._weights()))

    def init_state(self, batch_size: int, device=None, dtype=torch.float32):
        zeros = torch.zeros(batch_size, self.hidden, device=device, dtype=dtype)
        return (zeros, zeros.clone()) if self.cell == "lstm" else (zeros,)

    def step(self, x_t: torch.Tensor, state):
        x_proj = x_t @ self.weight_ih.T + self.bias_ih
        if self.cell == "lstm":
            state = lstm_step(x_proj, *state, self.weight_hh, self.bias_hh)
        else:
            state = (gru_step(x_proj, state[0], self.weight_hh, self.bias_hh),)
        return self.out_proj(state[0]), state
