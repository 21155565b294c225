"""Batches of word ids and character ids for the word-level taggers.

Each distinct token of a batch is read once by the character encoder and gathered back
to its positions; the tagging gold is added separately, so prediction batches carry none.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from core.errors import HarnessError
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
) -> tuple[dict[str, Any], list[list[str]], list[str]]:
    """Word ids, distinct tokens' character ids and where each position finds its token.

    ``lengths`` (>= 1: an empty tweet is read as one space token, since a CRF needs a first
    position) and ``char_lengths`` stay on the CPU, as packing requires. Also returns each
    tweet's token texts and the distinct tokens' character keys (row order of ``chars``),
    from which a system may add features of its own.
    """
    texts = [[t.text for t in e.tokens] or [" "] for e in examples]
    size, width = len(examples), max(len(t) for t in texts)
    words = torch.full((size, width), PAD_ID, dtype=torch.long)
    char_index = torch.zeros((size, width), dtype=torch.long)
    distinct: dict[str, int] = {}
    for i, row in enumerate(texts):
        words[i, : len(row)] = torch.tensor(
            [word_ids.get(word_key(t, lowercase), UNK_ID) for t in row]
        )
        char_index[i, : len(row)] = torch.tensor(
            [
                distinct.setdefault(char_key(t, max_chars, lowercase_chars), len(distinct))
                for t in row
            ]
        )
    char_lengths = torch.tensor([len(k) for k in distinct], dtype=torch.long)
    chars = torch.full((len(distinct), int(char_lengths.max())), PAD_ID, dtype=torch.long)
    for j, key in enumerate(distinct):
        chars[j, : len(key)] = torch.tensor([char_ids.get(c, UNK_ID) for c in key])
    lengths = torch.tensor([len(row) for row in texts], dtype=torch.long)
    batch: dict[str, Any] = {
        "words": words.to(device),
        "mask": (torch.arange(width)[None, :] < lengths[:, None]).to(device),
        "lengths": lengths,
        "chars": chars.to(device),
        "char_lengths": char_lengths,
        "char_index": char_index.to(device),
    }
    return batch, texts, list(distinct)


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
