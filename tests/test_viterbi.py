"""The NumPy Viterbi decoder gives torchcrf's tags, padding and ties included."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchcrf import CRF

from systems.neural.viterbi import viterbi_decode


def decode(crf: CRF, emissions: torch.Tensor, mask: torch.Tensor) -> list[list[int]]:
    return viterbi_decode(
        emissions.numpy(),
        mask.numpy(),
        crf.start_transitions.detach().numpy(),
        crf.end_transitions.detach().numpy(),
        crf.transitions.detach().numpy(),
    )


@pytest.mark.parametrize("seed", range(5))
def test_the_tags_of_torchcrf_for_random_batches(seed):
    generator = torch.Generator().manual_seed(seed)
    for _ in range(40):
        tags = 5
        size = int(torch.randint(1, 6, (), generator=generator))
        steps = int(torch.randint(1, 30, (), generator=generator))
        crf = CRF(tags, batch_first=True)
        with torch.no_grad():
            for parameter in crf.parameters():
                parameter.copy_(torch.randn(parameter.shape, generator=generator))
        emissions = torch.randn(size, steps, tags, generator=generator)
        lengths = torch.randint(1, steps + 1, (size,), generator=generator)
        mask = torch.arange(steps)[None, :] < lengths[:, None]
        got = decode(crf, emissions, mask)
        assert got == crf.decode(emissions, mask=mask)
        assert [len(path) for path in got] == lengths.tolist()


def test_ties_go_to_the_first_tag_as_in_torchcrf():
    crf = CRF(3, batch_first=True)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.zero_()
    emissions = torch.zeros(2, 4, 3)
    mask = torch.ones(2, 4, dtype=torch.bool)
    assert decode(crf, emissions, mask) == crf.decode(emissions, mask=mask) == [[0] * 4] * 2


def test_a_sequence_without_a_first_step_is_refused():
    with pytest.raises(ValueError, match="first step"):
        viterbi_decode(
            np.zeros((1, 3, 2), np.float32),
            np.array([[False, True, True]]),
            np.zeros(2, np.float32),
            np.zeros(2, np.float32),
            np.zeros((2, 2), np.float32),
        )
