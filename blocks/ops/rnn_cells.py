"""LSTM (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al. 2000) and GRU (Cho et
al. 2014) cells: one step, a whole sequence, and naive loops written from the papers' equations.

Weights are laid out as torch.nn.LSTM / torch.nn.GRU lay them out (gates stacked along the rows:
LSTM i, f, g, o; GRU r, z, n), so the same tensors load into either. These recurrences are
nonlinear in h: there is no parallel or chunked form, the sequence form is the step loop itself
(only the input projections of every position are computed at once).
"""
from __future__ import annotations

import torch


def lstm_step(x_proj_t, h, c, weight_hh, bias_hh):
    """x_proj_t = x_t W_ih^T + b_ih (batch, 4 hidden); h, c (batch, hidden). Returns (h, c)."""
    i, f, g, o = (x_proj_t + h @ weight_hh.T + bias_hh).chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def gru_step(x_proj_t, h, weight_hh, bias_hh):
    """x_proj_t = x_t W_ih^T + b_ih (batch, 3 hidden); h (batch, hidden). Returns h."""
    x_r, x_z, x_n = x_proj_t.chunk(3, dim=-1)
    h_r, h_z, h_n = (h @ weight_hh.T + bias_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(x_r + h_r), torch.sigmoid(x_z + h_z)
    return (1 - z) * torch.tanh(x_n + r * h_n) + z * h


def lstm(x, weight_ih, weight_hh, bias_ih, bias_hh):
    """x (batch, length, input) -> hidden states (batch, length, hidden), from zero h and c."""
    hidden = weight_hh.shape[1]
    h = c = x.new_zeros(x.shape[0], hidden)
    outputs = []
    for x_t in (x @ weight_ih.T + bias_ih).unbind(1):
        h, c = lstm_step(x_t, h, c, weight_hh, bias_hh)
        outputs.append(h)
    return torch.stack(outputs, dim=1)


def gru(x, weight_ih, weight_hh, bias_ih, bias_hh):
    """x (batch, length, input) -> hidden states (batch, length, hidden), from a zero h."""
    h = x.new_zeros(x.shape[0], weight_hh.shape[1])
    outputs = []
    for x_t in (x @ weight_ih.T + bias_ih).unbind(1):
        h = gru_step(x_t, h, weight_hh, bias_hh)
        outputs.append(h)
    return torch.stack(outputs, dim=1)


def lstm_naive(x, weight_ih, weight_hh, bias_ih, bias_hh):
    """Per step and per sample, each gate from its own block of weights:
    i = s(W_i x + U_i h + b_i), f = s(W_f x + U_f h + b_f), g = tanh(W_g x + U_g h + b_g),
    o = s(W_o x + U_o h + b_o), c = f c + i g, h = o tanh(c)."""
    W, U, bw, bu = (t.chunk(4, dim=0) for t in (weight_ih, weight_hh, bias_ih, bias_hh))
    out = x.new_zeros(x.shape[0], x.shape[1], weight_hh.shape[1])
    for b in range(x.shape[0]):
        h = c = x.new_zeros(weight_hh.shape[1])
        for t in range(x.shape[1]):
            pre = [W[j] @ x[b, t] + U[j] @ h + bw[j] + bu[j] for j in range(4)]
            i, f, g, o = torch.sigmoid(pre[0]), torch.sigmoid(pre[1]), torch.tanh(pre[2]), torch.sigmoid(pre[3])
            c = f * c + i * g
            h = o * torch.tanh(c)
            out[b, t] = h
    return out


def gru_naive(x, weight_ih, weight_hh, bias_ih, bias_hh):
    """Per step and per sample: r = s(W_r x + U_r h + b_r), z = s(W_z x + U_z h + b_z),
    n = tanh(W_n x + b_in + r (U_n h + b_hn)), h = (1 - z) n + z h."""
    W, U, bw, bu = (t.chunk(3, dim=0) for t in (weight_ih, weight_hh, bias_ih, bias_hh))
    out = x.new_zeros(x.shape[0], x.shape[1], weight_hh.shape[1])
    for b in range(x.shape[0]):
        h = x.new_zeros(weight_hh.shape[1])
        for t in range(x.shape[1]):
            r = torch.sigmoid(W[0] @ x[b, t] + bw[0] + U[0] @ h + bu[0])
            z = torch.sigmoid(W[1] @ x[b, t] + bw[1] + U[1] @ h + bu[1])
            n = torch.tanh(W[2] @ x[b, t] + bw[2] + r * (U[2] @ h + bu[2]))
            h = (1 - z) * n + z * h
            out[b, t] = h
    return out
