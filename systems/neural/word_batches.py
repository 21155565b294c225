"""Batches of word ids and character ids for the word-level taggers.

Each distinct token of a batch is read once by the character encoder and gathered back
to its positions; the tagging gold is added separately, so prediction batches carry none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from core.errors import HarnessError
from systems.neural.char_states import CharStateTable, char_ids_of
from systems.neural.examples import Example
from systems.neural.vocabulary import PAD_ID, UNK_ID, char_key, word_key


def token_batch(
    examples: Sequence[Example],
    word_ids: Mapping[str, int],
    char_ids: Mapping[str, int],
    *,
    lowercase: bool,
    max_chars: int,
    device: torch.device,
    lowercase_chars: bool = True,
    char_table: CharStateTable | None = None,
) -> tuple[dict[str, Any], list[list[str]], list[str]]:
    """Word ids, distinct tokens' character ids and where each position finds its token.

    ``lengths`` (>= 1: an empty tweet is read as one space token, since a CRF needs a first
    position) and ``char_lengths`` stay on the CPU, as packing requires. Also returns each
    tweet's token texts and the distinct tokens' character keys (the rows ``char_index``
    points to), from which a system may add features of its own.

    With a ``char_table`` (prediction), tokens whose key it holds take their character
    states from it (``known_char_states``, rows first) and only the others are read by the
    character network (``chars``, rows after those); ``char_index`` points into both.
    """
    texts = [[t.text for t in e.tokens] or [" "] for e in examples]
    size, width = len(examples), max(len(t) for t in texts)
    # filled in NumPy and turned into tensors once: a tensor built per token cost more
    # than the character GRU on a one-tweet call
    words = np.full((size, width), PAD_ID, dtype=np.int64)
    char_index = np.zeros((size, width), dtype=np.int64)
    distinct: dict[str, int] = {}
    for i, row in enumerate(texts):
        words[i, : len(row)] = [word_ids.get(word_key(t, lowercase), UNK_ID) for t in row]
        char_index[i, : len(row)] = [
            distinct.setdefault(char_key(t, max_chars, lowercase_chars), len(distinct)) for t in row
        ]
    keys = list(distinct)
    known: list[int] = []
    if char_table is not None:
        rows = [char_table.rows.get(key, -1) for key in keys]
        hits = [j for j, row in enumerate(rows) if row >= 0]
        misses = [j for j, row in enumerate(rows) if row < 0]
        remap = np.empty(len(keys), dtype=np.int64)
        remap[hits + misses] = np.arange(len(keys))
        char_index = remap[char_index]
        known = [rows[j] for j in hits]
        keys = [keys[j] for j in hits] + [keys[j] for j in misses]
    chars, char_lengths = char_ids_of(keys[len(known) :], char_ids)
    lengths = torch.from_numpy(np.array([len(row) for row in texts], dtype=np.int64))
    batch: dict[str, Any] = {
        "words": torch.from_numpy(words).to(device),
        "mask": (torch.arange(width)[None, :] < lengths[:, None]).to(device),
        "lengths": lengths,
        "chars": torch.from_numpy(chars).to(device),
        "char_lengths": torch.from_numpy(char_lengths),
        "char_index": torch.from_numpy(char_index).to(device),
    }
    if char_table is not None:
        rows_known = torch.tensor(known, dtype=torch.long)
        batch["known_char_states"] = char_table.states[rows_known].to(device)
    return batch, texts, keys


def gold_batch(
    examples: Sequence[Example], width: int, device: torch.device, name: str
) -> dict[str, torch.Tensor]:
    """Tag ids (zero-padded to ``width``) and 7a labels of gold examples."""
    tags = torch.zeros((len(examples), width), dtype=torch.long)
    for i, example in enumerate(examples):
        if example.tags is None or example.label is None:
            raise HarnessError(f"{name}: tweet {example.tweet.id} has no gold to train on")
        tags[i, : len(example.tags)] = torch.tensor(example.tags, dtype=torch.long)
    return {
        "tags": tags.to(device),
        "labels": torch.tensor([e.label for e in examples]).to(device),
    }
