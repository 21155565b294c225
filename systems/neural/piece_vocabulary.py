"""What happens to the encoder's word-piece embedding table while a system trains.

A multilingual encoder spends most of its parameters on the embedding table:
multilingual-e5-small holds 96M of its 118M there, for 250k pieces of which ProfNER's
tweets use a small share. AdamW keeps two more copies of every trained parameter, so
training the whole table costs most of a CPU step. Three choices (``-o embeddings=``):

* ``train``: the whole table is trained, as in ordinary fine-tuning;
* ``freeze``: the table keeps its pretrained values and is left out of the optimiser;
* ``corpus``: the table is cut to the pieces of the training tweets (plus the
  tokenizer's special tokens) and that small table is trained. Pieces outside the cut
  -- in tweets seen later -- are read as the unknown piece. The kept piece ids are saved
  with the model, so a loaded model cuts its inputs the same way.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from core.errors import HarnessError
from core.fileio import atomic_write_text, read_json_object

EmbeddingPolicy = Literal["train", "freeze", "corpus"]
#: the kept piece ids of a cut table, saved with the model
PIECES_FILE = "pieces.json"


class PieceMap:
    """The kept piece ids of a cut table and the map from tokenizer ids to rows of it."""

    def __init__(self, kept: Sequence[int], vocabulary_size: int, unknown: int):
        self.kept = sorted(set(kept))
        if not self.kept or self.kept[-1] >= vocabulary_size:
            raise HarnessError(f"kept pieces do not fit a vocabulary of {vocabulary_size}")
        row = {piece: i for i, piece in enumerate(self.kept)}
        if unknown not in row:
            raise HarnessError("the unknown piece must be kept in a cut vocabulary")
        self.table = torch.full((vocabulary_size,), row[unknown], dtype=torch.long)
        self.table[torch.tensor(self.kept)] = torch.arange(len(self.kept))

    def __len__(self) -> int:
        return len(self.kept)

    def __call__(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.table[input_ids]

    @classmethod
    def of_corpus(
        cls,
        encoder: nn.Module,
        subwords: Any,
        word_lists: Sequence[Sequence[str]],
        extra: Iterable[int] = (),
    ) -> PieceMap:
        """The map keeping the pieces ``subwords`` (a ``SubwordEncoder``) makes of
        ``word_lists``, plus ``extra`` ids, for ``encoder``'s table; the table is not cut
        yet (:meth:`shrink`)."""
        size = encoder.get_input_embeddings().num_embeddings
        batches = (subwords.encode(word_lists[i : i + 64]) for i in range(0, len(word_lists), 64))
        kept = sorted(set(pieces_of(batches, subwords.tokenizer)) | set(extra))
        return cls(kept, size, subwords.tokenizer.unk_token_id)

    def write(self, folder: Path) -> None:
        pieces = {"kept": self.kept, "vocabulary_size": len(self.table)}
        atomic_write_text(folder / PIECES_FILE, json.dumps(pieces))

    @classmethod
    def read(cls, folder: Path, unknown: int) -> PieceMap:
        """The map a model saved in ``folder`` (:meth:`write`); one line if unreadable."""
        saved = read_json_object(folder / PIECES_FILE, "piece list")
        try:
            return cls(saved["kept"], saved["vocabulary_size"], unknown)
        except (KeyError, TypeError) as err:
            raise HarnessError(f"{folder}: unreadable {PIECES_FILE} ({err})") from None

    def shrink(self, encoder: nn.Module) -> None:
        """Replace the encoder's embedding table by its kept rows, in place."""
        old = encoder.get_input_embeddings()
        padding = old.padding_idx
        if padding is not None and self.table[padding].item() != padding:
            # RoBERTa-style encoders derive positions from the padding id itself
            raise HarnessError("a cut vocabulary must keep the padding piece at its own id")
        new = nn.Embedding(len(self.kept), old.embedding_dim, padding_idx=padding)
        with torch.no_grad():
            new.weight.copy_(old.weight[torch.tensor(self.kept)])
        encoder.set_input_embeddings(new)
        encoder.config.vocab_size = len(self.kept)


def pieces_of(batches: Iterable[dict[str, Any]], tokenizer: Any) -> list[int]:
    """Piece ids the batches use, the special tokens, and every id up to the padding
    piece's (so that it keeps its own id in the cut table)."""
    used: set[int] = set()
    for batch in batches:
        used.update(batch["input_ids"].unique().tolist())
    used.update(i for i in tokenizer.all_special_ids if i is not None)
    used.update(range((tokenizer.pad_token_id or 0) + 1))
    return sorted(used)


def apply_policy(policy: str, encoder: nn.Module) -> None:
    """``freeze``: keep the embedding table out of training; ``train``/``corpus``: train it."""
    if policy not in ("train", "freeze", "corpus"):
        raise HarnessError(f"unknown embeddings policy {policy!r} (use train, freeze, corpus)")
    encoder.get_input_embeddings().weight.requires_grad_(policy != "freeze")
