"""Task heads on a pretrained encoder, and the network that joins the two.

The three transformer systems differ in what sits on the encoder, not in how the
encoder is read, so the head is a part to plug in (``-o head=...``):

* ``crf``: System 1 of the ProfNER winners. 7a: the [CLS] vector (averaged over a long
  tweet's windows) through a tanh pooler -- initialised from the checkpoint's pretrained
  pooler when it has one -- dropout, a linear layer, cross-entropy. An encoder with no
  pretrained pooler (multilingual-e5 was trained as a mean-pooled sentence encoder) is
  pooled over all its pieces instead (``pooling=mean``): its [CLS] state is no sentence
  vector, and a random pooler on it left 7a at F1 0.0 after a first epoch. 7b: each word's first
  piece, dropout, a linear layer and a CRF over the word tags. The loss is the sum.
* ``softmax``: a token classifier as Hugging Face's ``BertForTokenClassification``:
  dropout and one linear layer over each word's first piece, softmax cross-entropy (the
  other pieces are ignored, as label -100 does there). No 7a classifier: a tweet is
  positive when any span is found.
* ``mlp``: the same with a hidden ReLU layer of ``head_hidden`` units before the output.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Literal

import torch
from torch import nn

from core.errors import HarnessError
from systems.neural.gazetteer_features import GazetteerFeatures
from systems.neural.heads import CrfTagger, LabelClassifier
from systems.neural.subwords import document_vectors, first_pieces

Batch = dict[str, torch.Tensor]
#: what the 7a pooler reads: the [CLS] state, or the mean of every piece's state
Pooling = Literal["cls", "mean"]


def encoder_states(encoder: nn.Module, batch: Batch) -> torch.Tensor:
    """The encoder's last hidden state of every window (windows x pieces x H)."""
    return encoder(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
    ).last_hidden_state


def word_features(encoder: nn.Module, batch: Batch) -> torch.Tensor:
    """The encoder's last hidden state at each word's first piece (documents x words x H)."""
    return first_pieces(encoder_states(encoder, batch), batch["word_index"])


class TaskHead(nn.Module, ABC):
    """What turns encoder states into the two tasks' losses and predictions."""

    #: whether the head predicts 7a itself (else 7a is positive iff a span is found)
    classifies_tweets: ClassVar[bool] = False

    @abstractmethod
    def loss(self, hidden: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        """``{"loss": ...}`` (and its parts) of a gold batch."""

    @abstractmethod
    def decode(self, hidden: torch.Tensor, batch: Batch) -> tuple[list[int], list[list[int]]]:
        """7a labels and the word-level tag ids of each document."""


class MultitaskCrfHead(TaskHead):
    """System 1's heads: pooled [CLS] classifier for 7a, first-piece CRF tagger for 7b."""

    classifies_tweets = True

    def __init__(
        self,
        width: int,
        num_tags: int,
        dropout: float,
        pooler_state: dict[str, torch.Tensor] | None = None,
        init_range: float = 0.02,
        pooling: Pooling = "cls",
        gazetteer_flags: int = 0,
    ):
        super().__init__()
        self.pooling = pooling
        #: added to the first-piece features before the CRF; zero at the start
        self.gazetteer = (
            GazetteerFeatures(gazetteer_flags, width, zero_init=True) if gazetteer_flags else None
        )
        self.pooler = nn.Linear(width, width)
        if pooler_state is not None:
            self.pooler.load_state_dict(pooler_state)
        else:
            nn.init.normal_(self.pooler.weight, std=init_range)
            nn.init.zeros_(self.pooler.bias)
        self.classifier = LabelClassifier(width, dropout)
        self.tagger = CrfTagger(width, num_tags, dropout)

    def features(self, hidden: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(pooled tweet vectors, word features)."""
        documents = batch["word_index"].shape[0]
        if self.pooling == "mean":
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            windows = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        else:
            windows = hidden[:, 0]
        tweets = document_vectors(windows, batch["window_doc"], documents)
        words = first_pieces(hidden, batch["word_index"])
        if self.gazetteer is not None:
            words = words + self.gazetteer(batch["gazetteer"]).to(words.dtype)
        return torch.tanh(self.pooler(tweets)), words

    def loss(self, hidden: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        pooled, words = self.features(hidden, batch)
        loss_7a = nn.functional.cross_entropy(self.classifier(pooled), batch["labels"])
        loss_7b = self.tagger.loss(words, batch["tags"], batch["word_mask"])
        return {"loss": loss_7a + loss_7b, "loss_7a": loss_7a, "loss_7b": loss_7b}

    def decode(self, hidden: torch.Tensor, batch: Batch) -> tuple[list[int], list[list[int]]]:
        pooled, words = self.features(hidden, batch)
        labels = self.classifier(pooled).argmax(-1).tolist()
        return labels, self.tagger.decode(words, batch["word_mask"])


class SoftmaxHead(TaskHead):
    """Dropout, an optional ReLU layer of ``hidden`` units, a linear layer; per-word
    softmax over each word's first piece."""

    def __init__(self, width: int, num_tags: int, dropout: float, hidden: int = 0):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        layers: list[nn.Module] = []
        if hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        self.classifier = nn.Sequential(*layers, nn.Linear(width, num_tags))

    def logits(self, hidden: torch.Tensor, batch: Batch) -> torch.Tensor:
        words = first_pieces(hidden, batch["word_index"])
        return self.classifier(self.dropout(words)).float()

    def loss(self, hidden: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        mask = batch["word_mask"]
        logits = self.logits(hidden, batch)
        return {"loss": nn.functional.cross_entropy(logits[mask], batch["tags"][mask])}

    def decode(self, hidden: torch.Tensor, batch: Batch) -> tuple[list[int], list[list[int]]]:
        """Arg-max tags per word; the 7a label is 1 when any word is tagged."""
        best = self.logits(hidden, batch).argmax(-1)
        lengths = batch["word_mask"].sum(1).tolist()
        tags = [row[:n] for row, n in zip(best.tolist(), lengths, strict=True)]
        return [int(any(row)) for row in tags], tags


#: ``-o head=`` choices and whether each predicts 7a itself
HEADS: dict[str, type[TaskHead]] = {
    "crf": MultitaskCrfHead,
    "softmax": SoftmaxHead,
    "mlp": SoftmaxHead,
}


def make_head(
    kind: str,
    width: int,
    num_tags: int,
    dropout: float,
    *,
    head_hidden: int = 0,
    pooler_state: dict[str, torch.Tensor] | None = None,
    init_range: float = 0.02,
    pooling: Pooling = "cls",
    gazetteer_flags: int = 0,
) -> TaskHead:
    """The head named ``kind`` for an encoder of hidden size ``width``."""
    if kind == "crf":
        return MultitaskCrfHead(
            width, num_tags, dropout, pooler_state, init_range, pooling, gazetteer_flags
        )
    if gazetteer_flags:
        raise HarnessError(f"gazetteer features need head=crf, not head={kind}")
    if kind == "softmax":
        return SoftmaxHead(width, num_tags, dropout)
    if kind == "mlp":
        if head_hidden < 1:
            raise HarnessError(f"head=mlp needs head_hidden >= 1, got {head_hidden}")
        return SoftmaxHead(width, num_tags, dropout, hidden=head_hidden)
    raise HarnessError(f"unknown head {kind!r} (use {', '.join(HEADS)})")


class EncoderTagger(nn.Module):
    """A pretrained encoder and a task head: ``forward`` gives the loss of a gold batch,
    ``decode`` the 7a labels and word tags (the contract of ``NeuralSystem``)."""

    def __init__(self, encoder: nn.Module, head: TaskHead):
        super().__init__()
        self.encoder = encoder
        self.head = head

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self.head.loss(encoder_states(self.encoder, batch), batch)

    def decode(self, batch: Batch) -> tuple[list[int], list[list[int]]]:
        return self.head.decode(encoder_states(self.encoder, batch), batch)
