"""Frozen contextual word features for the word-level taggers (stacked embeddings).

The second-best ProfNER system (0.824 test) fed a BiLSTM-CRF the concatenation of static
word vectors, character features and a pretrained transformer's contextual embeddings,
Flair's "stacked embeddings". The transformer is frozen, so a tweet's features never
change during training: they are computed once per tweet (its words' first-piece states
of the last layer) and kept while the system fits, and every later epoch, and the
per-epoch valid scoring, reuses them. Training then costs one encoder pass over the
corpus plus the tagger's epochs, which fits a CPU, unlike fine-tuning the encoder.

The encoder's embedding table is cut to the pieces of the training tweets before it is
saved with the model (multilingual encoders keep most of their weights there, most of
them for other languages); pieces outside the cut are read as the unknown piece, as in
System 1's ``embeddings=corpus``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.errors import HarnessError
from systems.neural.distill import bf16_where_native
from systems.neural.encoder_catalog import resolve_model
from systems.neural.encoders import (
    effective_max_length,
    load_pretrained_encoder,
    load_tokenizer,
    quiet_loading,
)
from systems.neural.piece_vocabulary import PIECES_FILE, PieceMap
from systems.neural.subwords import SubwordEncoder, first_pieces

#: the saved encoder's folder inside a model folder
FOLDER = "contextual"
#: tweets per encoder call
CHUNK = 32


class ContextualWords:
    """A frozen encoder's per-word features, with the cache that makes them cheap."""

    def __init__(
        self, tokenizer: Any, encoder: nn.Module, max_length: int, piece_map: PieceMap | None
    ):
        self.tokenizer = tokenizer
        self.encoder = encoder.eval().requires_grad_(False)
        limit = effective_max_length(max_length, tokenizer, encoder.config)
        self.subwords = SubwordEncoder(tokenizer, limit, stride=limit // 4)
        self.piece_map = piece_map
        self.width = int(encoder.config.hidden_size)
        #: features by the tweet's words, kept while ``keep`` (a fit) is on
        self.cache: dict[tuple[str, ...], torch.Tensor] = {}
        self.keep = False
        #: tweets the encoder has read (tests check that a fit reads each one once)
        self.encoded = 0

    @classmethod
    def pretrained(
        cls,
        name: str,
        word_lists: Sequence[Sequence[str]],
        max_length: int,
        show_progress: bool = False,
    ) -> ContextualWords:
        """The encoder ``name`` (as ``-o model=`` takes it), its table cut to the pieces
        of ``word_lists`` (the training tweets)."""
        source = resolve_model(name)
        tokenizer = load_tokenizer(source)
        encoder, _ = load_pretrained_encoder(source, show_progress)
        words = cls(tokenizer, encoder, max_length, None)
        words.piece_map = PieceMap.of_corpus(encoder, words.subwords, word_lists)
        words.piece_map.shrink(encoder)
        return words

    def save(self, folder: Path) -> None:
        target = folder / FOLDER
        target.mkdir(parents=True, exist_ok=True)
        with quiet_loading(show_progress=False):
            self.encoder.save_pretrained(str(target))
        self.tokenizer.save_pretrained(str(target))
        if self.piece_map is not None:
            self.piece_map.write(target)

    @classmethod
    def load(cls, folder: Path, max_length: int) -> ContextualWords:
        target = folder / FOLDER
        if not target.is_dir():
            raise HarnessError(f"{folder}: cannot load model ({FOLDER}/ missing)")
        tokenizer = load_tokenizer(str(target))
        encoder, _ = load_pretrained_encoder(str(target), show_progress=False)
        piece_map = None
        if (target / PIECES_FILE).is_file():
            piece_map = PieceMap.read(target, tokenizer.unk_token_id)
        return cls(tokenizer, encoder, max_length, piece_map)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.encoder.parameters())

    def batch(self, word_lists: Sequence[Sequence[str]], width: int) -> torch.Tensor:
        """``(tweets, width, features)``, zero past each tweet's words; a tweet without
        words reads as one dummy word, as the taggers read it as one blank token."""
        keys = [tuple(words) for words in word_lists]
        missing = list(dict.fromkeys(k for k in keys if k not in self.cache))
        computed = dict(zip(missing, self._encode(missing), strict=True))
        if self.keep:
            self.cache.update(computed)
        out = torch.zeros(len(keys), width, self.width)
        for row, key in enumerate(keys):
            features = self.cache.get(key)
            if features is None:
                features = computed[key]
            out[row, : features.shape[0]] = features[:width]
        return out

    def _encode(self, keys: Sequence[tuple[str, ...]]) -> list[torch.Tensor]:
        results: list[torch.Tensor] = []
        with torch.inference_mode(), bf16_where_native():
            for start in range(0, len(keys), CHUNK):
                chunk = keys[start : start + CHUNK]
                batch = self.subwords.encode(chunk)
                input_ids = batch["input_ids"]
                if self.piece_map is not None:
                    input_ids = self.piece_map(input_ids)
                hidden = self.encoder(
                    input_ids=input_ids, attention_mask=batch["attention_mask"]
                ).last_hidden_state
                features = first_pieces(hidden.float(), batch["word_index"])
                for d, key in enumerate(chunk):
                    results.append(features[d, : max(len(key), 1)].clone())
                self.encoded += len(chunk)
        return results
