"""Bidirectional GRUs and LSTMs over padded batches, padding kept out of the recurrence.

A tweet's states must not depend on the other tweets of its batch, so padding may never
enter a recurrence. Training runs the layers on packed sequences. Prediction need not:
PyTorch runs an LSTM over a packed sequence as small matrix products, one per time step
and direction, while an unpacked LSTM batch goes through oneDNN's fused layer in one
call. At inference the helpers therefore give the same states without packing (see
:func:`_unpacked`) when that saves calls: when every sequence fills the batch (a single
tweet's words), and for LSTMs always -- two fused calls for a one-layer network
(right-padded for the forward direction, left-padded for the backward one), one per
distinct length for deeper ones. GRUs have no fused CPU layer in PyTorch (both paths loop
over time steps), so an uneven GRU batch stays packed rather than pay for two runs. The
word-level taggers (``rnn``, ``bilstm-cnn``) and the character encoders all read their
sequences through these helpers; a layer moved to ONNX Runtime
(:mod:`systems.neural.engines.onnx_recurrent`) takes the uneven batch whole.
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


def _packs(rnn: nn.Module, lengths: torch.Tensor, width: int) -> bool:
    """Whether to pack: while training (autograd through the packed path, as every
    reported run was trained), for a layout the unpacked path does not cover, and for an
    uneven GRU batch (no fused layer to gain, see the module docstring)."""
    if rnn.training or torch.is_grad_enabled() or not getattr(rnn, "bidirectional", False):
        return True
    return getattr(rnn, "mode", "") != "LSTM" and not bool((lengths == width).all())


def last_states(rnn: nn.Module, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Final forward and backward hidden states of the top layer, concatenated.

    The forward state is the one after each sequence's own last element, not after its
    padding.
    """
    if callable(whole := getattr(rnn, "run", None)):  # a layer on another engine
        return whole(inputs, lengths)[1].to(inputs.dtype)
    if not _packs(rnn, lengths, inputs.shape[1]):
        return _unpacked(rnn, inputs, lengths, final=True)
    packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
    _, hidden = rnn(packed)
    if isinstance(hidden, tuple):  # LSTM: (h, c)
        hidden = hidden[0]
    return torch.cat([hidden[-2], hidden[-1]], dim=-1)


def packed_states(rnn: nn.Module, inputs: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Every step's output of a batch-first RNN, zero on padding."""
    if callable(whole := getattr(rnn, "run", None)):  # a layer on another engine
        return whole(inputs, lengths)[0].to(inputs.dtype)
    if not _packs(rnn, lengths, inputs.shape[1]):
        return _unpacked(rnn, inputs, lengths, final=False)
    packed = pack_padded_sequence(inputs, lengths, batch_first=True, enforce_sorted=False)
    states, _ = rnn(packed)
    states, _ = pad_packed_sequence(states, batch_first=True, total_length=inputs.shape[1])
    return states


def _unpacked(
    rnn: nn.Module, inputs: torch.Tensor, lengths: torch.Tensor, final: bool
) -> torch.Tensor:
    """What the packed path gives, from unpacked calls of a bidirectional ``rnn``.

    Right padding only follows a sequence, so the forward direction's outputs at real
    positions are exact; left padding only follows the sequence in the backward
    direction's reading order, so its outputs are. A one-layer network reads both from
    its two runs; a deeper one (whose upper layers read both directions) runs each group
    of equal-length sequences on its own.
    """
    size, width = inputs.shape[:2]
    lengths = lengths.to(inputs.device)
    if bool((lengths == width).all()):
        states, hidden = rnn(inputs)
        if not final:
            return states
        hidden = hidden[0] if isinstance(hidden, tuple) else hidden
        return torch.cat([hidden[-2], hidden[-1]], dim=-1)
    if rnn.num_layers > 1:
        return _by_length(rnn, inputs, lengths, final)
    hidden = rnn.hidden_size
    positions = torch.arange(width, device=inputs.device)
    shift = (width - lengths)[:, None]
    # row i of the left-padded batch holds original position p at p + shift_i
    source = (positions[None, :] - shift).clamp(min=0)
    real = positions[None, :] >= shift
    left = inputs.gather(1, source[..., None].expand(-1, -1, inputs.shape[2]))
    left = left * real[..., None].to(inputs.dtype)
    forward, _ = rnn(inputs)
    backward, _ = rnn(left)
    rows = torch.arange(size, device=inputs.device)
    if final:
        # forward: after the last real element; backward: after reading back to the first
        return torch.cat(
            [forward[rows, lengths - 1, :hidden], backward[rows, shift[:, 0], hidden:]], dim=-1
        )
    back = backward[..., hidden:].gather(
        1, (positions[None, :] + shift).clamp(max=width - 1)[..., None].expand(-1, -1, hidden)
    )
    states = torch.cat([forward[..., :hidden], back], dim=-1)
    inside = positions[None, :] < lengths[:, None]
    return states * inside[..., None].to(states.dtype)


def _by_length(
    rnn: nn.Module, inputs: torch.Tensor, lengths: torch.Tensor, final: bool
) -> torch.Tensor:
    """One unpacked call per distinct length: exact for any depth."""
    size, width = inputs.shape[:2]
    out_width = 2 * rnn.hidden_size
    if final:
        result = inputs.new_zeros(size, out_width)
    else:
        result = inputs.new_zeros(size, width, out_width)
    for length in torch.unique(lengths).tolist():
        rows = (lengths == length).nonzero(as_tuple=True)[0]
        states, hidden = rnn(inputs[rows, :length])
        if final:
            hidden = hidden[0] if isinstance(hidden, tuple) else hidden
            result[rows] = torch.cat([hidden[-2], hidden[-1]], dim=-1).to(result.dtype)
        else:
            result[rows, :length] = states.to(result.dtype)
    return result
