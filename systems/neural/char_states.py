"""The character encoder's state of every vocabulary word, computed once for prediction.

The character BiGRU reads each token on its own: its state depends on the token's
characters and on nothing else in the tweet. So for prediction the states of the words
the model knows can be computed at load, in large batches, and looked up per call; only
tokens outside the vocabulary still go through the character network. On a one-tweet
call that leaves the word encoder as the only recurrence over a vocabulary word's
characters that is paid per call (docs/benchmarks.md measures the saving).

The table is built from the model as it will predict (after the precision switch), so it
holds the states that path computes; training never uses it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import numpy as np
import torch
from torch import nn

from systems.neural.recurrent import last_states
from systems.neural.vocabulary import PAD_ID, UNK_ID

log = logging.getLogger("harness")

#: keys read per character-network call while the table is built
BUILD_BATCH = 2048


def char_ids_of(keys: list[str], char_ids: Mapping[str, int]) -> tuple[np.ndarray, np.ndarray]:
    """(padded character ids, lengths) of ``keys``, as the character network reads them."""
    lengths = np.array([len(k) for k in keys], dtype=np.int64)
    chars = np.full((len(keys), int(lengths.max(initial=1))), PAD_ID, dtype=np.int64)
    for j, key in enumerate(keys):
        chars[j, : len(key)] = [char_ids.get(c, UNK_ID) for c in key]
    return chars, lengths


class CharStateTable:
    """Character states by character key (``vocabulary.char_key``): ``rows`` gives a key's
    row of ``states``."""

    def __init__(self, keys: list[str], states: torch.Tensor):
        self.rows = {key: row for row, key in enumerate(keys)}
        self.states = states

    def __len__(self) -> int:
        return len(self.rows)

    @classmethod
    def build(
        cls,
        embedding: nn.Embedding,
        char_rnn: nn.Module,
        keys: Iterable[str],
        char_ids: Mapping[str, int],
    ) -> CharStateTable:
        """Run the character network over ``keys`` (empty ones skipped), longest first."""
        ordered = sorted({k for k in keys if k}, key=lambda k: (-len(k), k))
        parts = []
        with torch.inference_mode():
            for start in range(0, len(ordered), BUILD_BATCH):
                chars, lengths = char_ids_of(ordered[start : start + BUILD_BATCH], char_ids)
                inputs = embedding(torch.from_numpy(chars))
                parts.append(last_states(char_rnn, inputs, torch.from_numpy(lengths)).clone())
        width = 2 * getattr(char_rnn, "hidden_size", 0)
        states = torch.cat(parts) if parts else torch.zeros((0, width))
        log.info("character states of %d vocabulary words computed for prediction", len(ordered))
        return cls(ordered, states)
