"""Viterbi decoding of a linear-chain CRF in NumPy, for prediction.

``torchcrf``'s own decoder runs several PyTorch operations per token in a Python loop
and reads each back-pointer with ``.item()``; for one tweet that loop costs more than
the tagger's layers on a fast CPU. The same recursion on NumPy arrays (a handful of
small array operations per token, back-pointers read from one array) gives the same
tags: the same float32 additions in the same order, and the first best index on ties,
as ``torch.max`` gives on the CPU. Training keeps ``torchcrf`` for the likelihood.
"""

from __future__ import annotations

import numpy as np


def viterbi_decode(
    emissions: np.ndarray,
    mask: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    transitions: np.ndarray,
) -> list[list[int]]:
    """Best tag sequence of each row; ``emissions`` (batch, steps, tags), ``mask``
    (batch, steps) true on real steps and on every row's first one, ``transitions[i, j]``
    the score of tag ``i`` followed by ``j``."""
    batch, steps, tags = emissions.shape
    if steps == 0 or not bool(mask[:, 0].all()):
        raise ValueError("every sequence needs a first step")
    score = start + emissions[:, 0]
    history = np.empty((max(steps - 1, 0), batch, tags), dtype=np.intp)
    for step in range(1, steps):
        candidates = score[:, :, None] + transitions + emissions[:, step, None, :]
        best = candidates.argmax(axis=1)
        history[step - 1] = best
        reached = candidates.max(axis=1)
        score = np.where(mask[:, step, None], reached, score)
    score = score + end
    lengths = mask.sum(axis=1)
    paths: list[list[int]] = []
    for row in range(batch):
        tag = int(score[row].argmax())
        path = [tag]
        for step in range(int(lengths[row]) - 2, -1, -1):
            tag = int(history[step, row, tag])
            path.append(tag)
        path.reverse()
        paths.append(path)
    return paths
