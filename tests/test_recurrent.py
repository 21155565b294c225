"""The recurrent helpers: packed sequences while training, the same states without
packing at inference (fewer, fused calls), padding never entering a recurrence."""

from __future__ import annotations

import pytest
import torch

from systems.neural import recurrent
from systems.neural.recurrent import last_states, make_rnn, packed_states


def padded(lengths: list[int], features: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded inputs whose padding is noise: it must not matter."""
    generator = torch.Generator().manual_seed(1)
    inputs = torch.randn(len(lengths), max(lengths), features, generator=generator)
    return inputs, torch.tensor(lengths)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", ["gru", "lstm"])
@pytest.mark.parametrize("lengths", [[7, 3, 1, 5], [4, 4, 4]], ids=["uneven", "even"])
def test_inference_states_equal_the_packed_ones(kind, layers, lengths):
    torch.manual_seed(0)
    rnn = make_rnn(kind, 6, 5, layers).eval()
    inputs, sizes = padded(lengths)
    with torch.enable_grad():  # autograd on: the packed path, as in training
        final, steps = last_states(rnn, inputs, sizes), packed_states(rnn, inputs, sizes)
    with torch.inference_mode():
        fast_final, fast_steps = last_states(rnn, inputs, sizes), packed_states(rnn, inputs, sizes)
    torch.testing.assert_close(fast_final, final, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(fast_steps, steps, atol=1e-5, rtol=1e-5)
    for row, length in enumerate(lengths):  # zero on padding, as pad_packed_sequence gives
        assert not fast_steps[row, length:].any()


def test_a_tweet_s_states_do_not_depend_on_its_batch():
    torch.manual_seed(0)
    rnn = make_rnn("lstm", 6, 5).eval()
    inputs, sizes = padded([7, 3, 5])
    with torch.inference_mode():
        together = packed_states(rnn, inputs, sizes)
        alone = packed_states(rnn, inputs[1:2, :3], sizes[1:2])
    torch.testing.assert_close(together[1, :3], alone[0], atol=1e-5, rtol=1e-5)


def refuse_packing(monkeypatch) -> None:
    def refuse(*_args, **_kwargs):
        raise AssertionError("packed")

    monkeypatch.setattr(recurrent, "pack_padded_sequence", refuse)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_inference_never_packs_a_full_batch(kind, monkeypatch):
    """One tweet's words fill their batch: one fused call, no packing."""
    rnn = make_rnn(kind, 6, 5).eval()
    inputs, sizes = padded([4])
    refuse_packing(monkeypatch)
    with torch.inference_mode():
        packed_states(rnn, inputs, sizes)
        last_states(rnn, inputs, sizes)


def test_inference_runs_an_uneven_lstm_batch_unpacked(monkeypatch):
    rnn = make_rnn("lstm", 6, 5).eval()
    inputs, sizes = padded([4, 2])
    refuse_packing(monkeypatch)
    with torch.inference_mode():
        last_states(rnn, inputs, sizes)
    with pytest.raises(AssertionError, match="packed"), torch.enable_grad():
        last_states(rnn.train(), inputs, sizes)  # training still packs
