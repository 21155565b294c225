"""Bidirectional GRUs and LSTMs over padded batches, run on packed sequences.

Packing keeps padding out of the recurrence, so a tweet's states do not depend on the
other tweets of its batch; the word-level taggers (``rnn``, ``bilstm-cnn``) and the
character encoders all read their sequences through these helpers.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from core.errors import HarnessError


def make_rnn(
    kind: str, input_size: int, hidden: int, layers: int = 1, dropout: float = 0.0
) -> nn.GRU | nn.LSTM:
    """A bidirectional, batch-first GRU or LSTM."""
    if kind not in ("gru", "lstm"):
        raise HarnessError(f"unknown recurrent unit {kind!r} (use gru or lstm)")
    rnn_class = nn.GRU if kind == "gru" else nn.LSTM
    return rnn_class(
        input_size,
        hidden,
        num_layers=layers,
        batch_first=True,
        bidirectional=True,
        dropout=dropout if layers > 1 else 0.0,
    )


def last_states(rnn: nn.GRU | nn.LSTM, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Final forward and backward hidden states of the top layer, concatenated.

    Packing makes the forward state the one after each sequence's own last element, not
    after its padding; ``enforce_sorted=False`` lets PyTorch sort and unsort.
    """
    packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
    _, hidden = rnn(packed)
    if isinstance(hidden, tuple):  # LSTM: (h, c)
        hidden = hidden[0]
    return torch.cat([hidden[-2], hidden[-1]], dim=-1)


def packed_states(
    rnn: nn.GRU | nn.LSTM, inputs: torch.Tensor, lengths: torch.Tensor
) -> torch.Tensor:
    """Every step's output of a batch-first RNN, zero on padding; packing keeps the
    padding out of the recurrence, so a sequence's states do not depend on its batch."""
    packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
    states, _ = rnn(packed)
    states, _ = pad_packed_sequence(states, batch_first=True, total_length=inputs.shape[1])
    return states
