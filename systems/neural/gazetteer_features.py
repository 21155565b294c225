"""Gazetteer flags as model features: the one module ``rnn`` and ``transformer`` share.

Each token's flag (O, or B-/I- of a matched term's type, see :mod:`systems.gazetteer`)
is embedded; ``rnn`` concatenates the embedding to its word representation, and
``transformer`` adds it to each word's first-piece state before the CRF. The
transformer's embedding starts at zero, so a fine-tuned encoder begins exactly where it
would without the gazetteer and learns how far to trust a flag.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from core.tweets import Tweet
from systems.gazetteer import (
    FILE_NAME,
    O_FLAG,
    Gazetteer,
    build_gazetteers,
    flag_labels,
    fold_flags,
    parse_sources,
)
from systems.neural.examples import Example


@dataclass
class GazetteerOptions:
    """``-o gazetteer=``: comma-separated sources, ``train`` (the training tweets'
    mentions, k-fold on train) and/or term files (``term`` or ``term<TAB>TYPE`` lines);
    empty: no gazetteer features."""

    gazetteer: str = ""
    #: folds for the training tweets' flags from the ``train`` source
    gazetteer_folds: int = 5


class GazetteerFeatures(nn.Module):
    """Flag ids ``(batch, words)`` -> embeddings ``(batch, words, dim)``."""

    def __init__(self, num_flags: int, dim: int, zero_init: bool = False):
        super().__init__()
        self.embedding = nn.Embedding(num_flags, dim, padding_idx=O_FLAG if zero_init else None)
        if zero_init:
            nn.init.zeros_(self.embedding.weight)

    def forward(self, flags: torch.Tensor) -> torch.Tensor:
        return self.embedding(flags)


def flag_count(types: Sequence[str]) -> int:
    return len(flag_labels(types))


def attach_training_flags(
    options: GazetteerOptions,
    tweets: Sequence[Tweet],
    examples: Sequence[Example],
    types: Sequence[str],
    seed: int,
) -> Gazetteer | None:
    """Flag the training examples (k-fold) and return the gazetteer for unseen tweets."""
    if not parse_sources(options.gazetteer):
        return None
    gazetteers = build_gazetteers(options.gazetteer, tweets, types)
    flags = fold_flags(
        tweets, [e.tokens for e in examples], gazetteers, options.gazetteer_folds, seed
    )
    for example, row in zip(examples, flags, strict=True):
        example.features = row
    return gazetteers.full


def attach_flags(gazetteer: Gazetteer | None, examples: Sequence[Example]) -> None:
    if gazetteer is not None:
        for example in examples:
            example.features = gazetteer.flags(example.tokens)


def flag_batch(examples: Sequence[Example], width: int) -> torch.Tensor:
    """Flag ids padded with O to ``width`` words."""
    flags = torch.full((len(examples), width), O_FLAG, dtype=torch.long)
    for i, example in enumerate(examples):
        if example.features:
            flags[i, : len(example.features)] = torch.tensor(example.features[:width])
    return flags


def describe(gazetteer: Gazetteer, options: GazetteerOptions) -> dict[str, Any]:
    """What ``architecture.json`` records of a gazetteer."""
    return {
        "file": FILE_NAME,
        "sources": parse_sources(options.gazetteer),
        "terms": len(gazetteer),
        "folds": options.gazetteer_folds,
    }
