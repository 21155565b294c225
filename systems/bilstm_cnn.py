"""``bilstm-cnn``: the BiLSTM-CNN tagger of Chiu and Nichols (2016), seed 004's baseline.

Each word token is the concatenation of

* a word embedding of the lower-cased word (learned from scratch, or started from
  pretrained vectors with ``vectors=PATH`` -- the loader and vocabulary rules of the
  ``rnn`` system, :mod:`systems.rnn`),
* optionally Chiu and Nichols' capitalisation feature (all caps, upper initial, lower
  case, mixed caps, no letters), a one-hot vector, since lower-casing loses it,
* a character CNN: embeddings of the token's (case-kept) characters, optionally with a
  one-hot character type (upper case, lower case, punctuation, other), one convolution
  and max-pooling over the characters.

A bidirectional LSTM reads the sequence. As in the paper, the forward and the backward
LSTM outputs each go through their own linear layer and log-softmax, and the two tag
log-probability vectors are added; training minimises the cross-entropy of both, so a
token's tag is the arg-max of the sum. There is no CRF and no 7a classifier (7a: a tweet
is positive when any span is predicted).

Optimisation follows seed 004: Nadam with a fixed learning rate of 0.0105 and dropout 0.5.
The network sizes are Chiu and Nichols' best CoNLL-2003 setting (convolution width 3, 53
filters, LSTM state 275, one layer, mini-batches of 9 sentences, 80 epochs).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler

from core.errors import HarnessError
from core.inference_paths import PRECISIONS, paths, prefer
from systems.neural.base import NeuralConfig, NeuralSystem
from systems.neural.examples import Example
from systems.neural.recurrent import make_rnn, packed_states
from systems.neural.training import (
    constant_schedule,
    linear_warmup_decay,
    make_optimizer,
    parameter_groups,
)
from systems.neural.vocabulary import (
    PAD_ID,
    build_vocabularies,
    copy_vectors,
    read_vocabularies,
    write_vocabularies,
)
from systems.neural.word_batches import gold_batch, token_batch

#: Chiu and Nichols' character types; id 0 is padding (a zero one-hot vector).
CHAR_TYPES = ("upper", "lower", "punctuation", "other")
#: Chiu and Nichols' word capitalisation feature; id 0 is padding.
CASINGS = ("all_caps", "upper_initial", "lowercase", "mixed_caps", "no_info")


@dataclass
class BilstmCnnConfig(NeuralConfig):
    """Options of ``--system bilstm-cnn`` (see the module docstring for the sources).

    Weight decay is off (the paper regularises with dropout only); the gradient norm is
    clipped at 5, the usual guard against exploding LSTM gradients, which a learning
    rate this high makes likelier.
    """

    batch_size: int = 9
    lr: float = 0.0105
    weight_decay: float = 0.0
    epochs: int = 80
    warmup_steps: int = 0
    dropout: float = 0.5
    max_grad_norm: float = 5.0
    predict_batch_size: int = 64
    #: nadam (seed 004) or adamw (the other systems' optimiser)
    optimizer: Literal["nadam", "adamw"] = "nadam"
    #: constant learning rate (the paper) or linear warm-up then decay
    schedule: Literal["constant", "linear"] = "constant"

    #: pretrained word vectors (word2vec, fastText .vec, GloVe); none: learned from scratch
    vectors: str | None = None
    #: the paper used 50-d vectors (Collobert et al.)
    word_dim: int = 50
    #: train words (and characters) seen fewer times map to <unk>
    min_count: int = 2
    #: with vectors: also add the file's first N (most frequent) words to the vocabulary
    vectors_vocab: int = 40000
    #: lower-case words for the word embedding (the paper; casing is its own feature)
    lowercase: bool = True
    #: add the capitalisation feature to each word
    casing: bool = True
    char_dim: int = 25
    #: add the character-type feature to each character
    char_types: bool = True
    char_filters: int = 53
    char_width: int = 3
    #: longer tokens (URLs) keep their first and last characters, half each
    max_word_chars: int = 40
    lstm_hidden: int = 275
    lstm_layers: int = 1


#: Config fields that fix the network's shapes (with the vocabulary and tag-set sizes).
SHAPE_FIELDS = (
    "word_dim",
    "casing",
    "char_dim",
    "char_types",
    "char_filters",
    "char_width",
    "lstm_hidden",
    "lstm_layers",
    "dropout",
)


def char_type(char: str) -> int:
    """1-based index into :data:`CHAR_TYPES`."""
    if char.isupper():
        return 1
    if char.islower():
        return 2
    if unicodedata.category(char).startswith("P"):
        return 3
    return 4


def casing(text: str) -> int:
    """1-based index into :data:`CASINGS`, from the token's letters."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 5
    if all(c.islower() for c in letters):
        return 3
    rest = letters[1:]
    if text[0].isupper() and all(c.islower() for c in rest):
        return 2
    if all(c.isupper() for c in letters):
        return 1
    return 4


def one_hot(ids: torch.Tensor, categories: int) -> torch.Tensor:
    """Float one-hot vectors of 1-based ``ids``; id 0 (padding) gives the zero vector."""
    return nn.functional.one_hot(ids, categories + 1)[..., 1:].float()


class CharCnn(nn.Module):
    """Character embeddings (+ types), one convolution, max-pooling over the characters.

    Padding characters are zero vectors and are excluded from the max, so a token's
    feature does not depend on the longest token of its batch.
    """

    def __init__(self, num_chars: int, dim: int, filters: int, width: int, types: bool):
        super().__init__()
        self.embedding = nn.Embedding(num_chars, dim, PAD_ID)
        self.types = types
        in_channels = dim + (len(CHAR_TYPES) if types else 0)
        self.conv = nn.Conv1d(in_channels, filters, width, padding="same")

    def forward(
        self, chars: torch.Tensor, lengths: torch.Tensor, types: torch.Tensor | None
    ) -> torch.Tensor:
        """``(tokens, filters)`` from ``chars`` ``(tokens, max characters)``."""
        inputs = self.embedding(chars)
        if self.types:
            if types is None:
                raise HarnessError("bilstm-cnn: character types missing from the batch")
            inputs = torch.cat([inputs, one_hot(types, len(CHAR_TYPES))], dim=-1)
        features = self.conv(inputs.transpose(1, 2))  # tokens x filters x characters
        positions = torch.arange(chars.shape[1], device=chars.device)
        padding = positions[None, :] >= lengths.to(chars.device)[:, None]
        return features.masked_fill(padding[:, None, :], -torch.inf).amax(-1)


class BilstmCnnModel(nn.Module):
    """Word embedding (+ casing) and character CNN, BiLSTM, two output layers added."""

    def __init__(
        self,
        *,
        vocabulary_size: int,
        num_chars: int,
        num_tags: int,
        word_dim: int,
        casing: bool,
        char_dim: int,
        char_types: bool,
        char_filters: int,
        char_width: int,
        lstm_hidden: int,
        lstm_layers: int,
        dropout: float,
    ):
        super().__init__()
        self.word_embedding = nn.Embedding(vocabulary_size, word_dim, PAD_ID)
        self.casing = casing
        self.chars = CharCnn(num_chars, char_dim, char_filters, char_width, char_types)
        inputs = word_dim + (len(CASINGS) if casing else 0) + char_filters
        self.lstm = make_rnn("lstm", inputs, lstm_hidden, lstm_layers, dropout)
        self.hidden = lstm_hidden
        self.forward_output = nn.Linear(lstm_hidden, num_tags)
        self.backward_output = nn.Linear(lstm_hidden, num_tags)
        self.dropout = nn.Dropout(dropout)

    def log_probabilities(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Sum of the forward and backward tag log-probabilities, ``(batch, tokens, tags)``."""
        chars = self.chars(batch["chars"], batch["char_lengths"], batch.get("char_types"))
        parts = [self.word_embedding(batch["words"])]
        if self.casing:
            parts.append(one_hot(batch["casing"], len(CASINGS)))
        parts.append(chars[batch["char_index"]])
        features = self.dropout(torch.cat(parts, dim=-1))
        states = self.dropout(packed_states(self.lstm, features, batch["lengths"]))
        ahead = nn.functional.log_softmax(self.forward_output(states[..., : self.hidden]), -1)
        behind = nn.functional.log_softmax(self.backward_output(states[..., self.hidden :]), -1)
        return ahead + behind

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Cross-entropy of both directions, averaged over the real tokens."""
        scores = self.log_probabilities(batch)
        mask = batch["mask"]
        gold = scores.gather(-1, batch["tags"].unsqueeze(-1)).squeeze(-1)
        return {"loss": -gold[mask].mean()}

    def decode(self, batch: dict[str, torch.Tensor]) -> tuple[list[int], list[list[int]]]:
        best = self.log_probabilities(batch).argmax(-1).tolist()
        tags = [row[:n] for row, n in zip(best, batch["lengths"].tolist(), strict=True)]
        return [int(any(row)) for row in tags], tags


class BilstmCnnSystem(NeuralSystem):
    name = "bilstm-cnn"
    description = (
        "BiLSTM-CNN after Chiu and Nichols (2016): word embeddings + casing, character CNN "
        "with character types, BiLSTM, per-token softmax; Nadam."
    )
    labels_from_spans = True
    Config = BilstmCnnConfig
    config: BilstmCnnConfig

    #: fp32: at 1.3M parameters quantising activations costs more than int8 saves (both
    #: int8 paths measured slower than fp32, docs/benchmarks.md)
    auto_preferences = prefer(("torch", "fp32", "a small network: int8 measured slower"))
    #: its one recurrent layer is wide enough for int8, which would leave ONNX Runtime
    #: nothing to run on an ``onnxruntime int8`` path: fp32 only there
    inference_paths = paths(torch=" ".join(PRECISIONS), onnxruntime="fp32")

    def __init__(self, config: BilstmCnnConfig | None = None):
        super().__init__(config)
        self.words: list[str] = []
        self.chars: list[str] = []
        self.word_ids: dict[str, int] = {}
        self.char_ids: dict[str, int] = {}

    # -- vocabularies and model --------------------------------------------------------------

    def build(self, train: Sequence[Example]) -> dict[str, Any]:
        cfg = self.config
        tokens = [t.text for example in train for t in example.tokens]
        words, chars, vectors = build_vocabularies(tokens, cfg, self.name, lowercase_chars=False)
        architecture: dict[str, Any] = {
            "vocabulary_size": len(words),
            "num_chars": len(chars),
            "num_tags": len(self.codec),
            **{name: getattr(cfg, name) for name in SHAPE_FIELDS},
        }
        self._make_model(words, chars, architecture)
        if vectors is not None:
            architecture["vectors"] = copy_vectors(
                self._bilstm_model().word_embedding,
                self.words,
                vectors,
                seed=cfg.seed,
                name=self.name,
                path=cfg.vectors,
            )
        return architecture

    def _make_model(self, words: list[str], chars: list[str], shape: dict[str, Any]) -> None:
        """Set the vocabularies and create an untrained model of the recorded ``shape``."""
        self.words, self.chars = words, chars
        self.word_ids = {w: i for i, w in enumerate(words)}
        self.char_ids = {c: i for i, c in enumerate(chars)}
        names = ("vocabulary_size", "num_chars", "num_tags", *SHAPE_FIELDS)
        self.model = BilstmCnnModel(**{name: shape[name] for name in names})

    def rebuild(self, architecture: dict[str, Any], folder: Path) -> None:
        try:
            sizes = (architecture["vocabulary_size"], architecture["num_chars"])
            self._make_model(*read_vocabularies(folder, sizes), architecture)
        except KeyError as err:
            raise HarnessError(f"{folder}: architecture.json lacks {err}") from None

    def save_extra(self, folder: Path) -> None:
        write_vocabularies(folder, self.words, self.chars)

    def _bilstm_model(self) -> BilstmCnnModel:
        model = self._model()
        assert isinstance(model, BilstmCnnModel)
        return model

    # -- optimisation ------------------------------------------------------------------------

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        cfg = self.config
        if cfg.optimizer == "adamw":
            return make_optimizer(model, cfg.lr, cfg.weight_decay)
        return torch.optim.NAdam(parameter_groups(model, cfg.weight_decay), lr=cfg.lr)

    def make_scheduler(self, optimizer: torch.optim.Optimizer, total_steps: int) -> LRScheduler:
        if self.config.schedule == "constant":
            return constant_schedule(optimizer)
        return linear_warmup_decay(optimizer, self.config.warmup_steps, total_steps)

    # -- batches -----------------------------------------------------------------------------

    def collate(self, examples: Sequence[Example], with_gold: bool) -> dict[str, Any]:
        """System 2's word and character ids (case kept in the characters), plus the
        casing and character-type ids."""
        if not self.word_ids:
            raise HarnessError(f"{self.name}: the system is not trained or loaded")
        cfg = self.config
        batch, texts, keys = token_batch(
            examples,
            self.word_ids,
            self.char_ids,
            lowercase=cfg.lowercase,
            max_chars=cfg.max_word_chars,
            device=self.device,
            lowercase_chars=False,
        )
        width = batch["words"].shape[1]
        if cfg.casing:
            casings = torch.zeros((len(texts), width), dtype=torch.long)
            for i, row in enumerate(texts):
                casings[i, : len(row)] = torch.tensor([casing(t) for t in row])
            batch["casing"] = casings.to(self.device)
        if cfg.char_types:
            types = torch.zeros(batch["chars"].shape, dtype=torch.long)
            for j, key in enumerate(keys):
                types[j, : len(key)] = torch.tensor([char_type(c) for c in key])
            batch["char_types"] = types.to(self.device)
        if with_gold:
            batch.update(gold_batch(examples, width, self.device, self.name))
        return batch
