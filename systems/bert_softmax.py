"""``bert-softmax``: a token classifier in the style of ``BertForTokenClassification``.

The plain fine-tuning baseline of seed 003 (Parganiha): a pretrained encoder reads the
word pieces, dropout and one linear layer score every tag, and a softmax cross-entropy is
taken on the first piece of each word -- the other pieces are ignored, as with label -100
in Hugging Face's token-classification recipe. There is no CRF and no 7a classifier: a
tweet is positive for 7a when any span is predicted. Training follows the paper: AdamW,
lr 5e-5, 4 epochs, the learning rate falling linearly to 0.

Everything about the encoder -- loading by hub name or folder, dropped-word substitution,
first-piece pooling, windows for long inputs, saving the tokenizer and config so a saved
model loads offline -- is System 1's (:class:`systems.transformer.TransformerSystem`);
this module only swaps the heads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from systems.neural.subwords import first_pieces
from systems.transformer import TransformerConfig, TransformerSystem


@dataclass
class BertSoftmaxConfig(TransformerConfig):
    """Options of ``--system bert-softmax`` (defaults: seed 003's fine-tuning recipe).

    Weight decay 0 and no warm-up are the defaults of the Hugging Face AdamW and linear
    schedule the recipe uses; the gradient norm is clipped at 1.0 as in that recipe.
    """

    batch_size: int = 32
    lr: float = 5e-5
    weight_decay: float = 0.0
    epochs: int = 4
    warmup_steps: int = 0
    max_grad_norm: float = 1.0


def word_features(encoder: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """The encoder's last hidden state at each word's first piece (documents x words x H)."""
    hidden = encoder(
        input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
    ).last_hidden_state
    return first_pieces(hidden, batch["word_index"])


class SoftmaxTagger(nn.Module):
    """Encoder, dropout, a linear layer over the word features, per-word softmax.

    ``hidden`` adds a ReLU layer of that width before the output layer (an MLP head).
    """

    def __init__(self, encoder: nn.Module, num_tags: int, dropout: float, hidden: int = 0):
        super().__init__()
        width = encoder.config.hidden_size
        self.encoder = encoder
        self.dropout = nn.Dropout(dropout)
        layers: list[nn.Module] = []
        if hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU(), nn.Dropout(dropout)]
            width = hidden
        self.classifier = nn.Sequential(*layers, nn.Linear(width, num_tags))

    def logits(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        words = word_features(self.encoder, batch)
        return self.classifier(self.dropout(words)).float()

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        logits = self.logits(batch)
        mask = batch["word_mask"]
        loss = nn.functional.cross_entropy(logits[mask], batch["tags"][mask])
        return {"loss": loss}

    def decode(self, batch: dict[str, torch.Tensor]) -> tuple[list[int], list[list[int]]]:
        """Arg-max tags per word; the 7a label is 1 when any word is tagged (unused: the
        system takes 7a from the decoded spans)."""
        best = self.logits(batch).argmax(-1)
        lengths = batch["word_mask"].sum(1).tolist()
        tags = [row[:n] for row, n in zip(best.tolist(), lengths, strict=True)]
        return [int(any(row)) for row in tags], tags


class BertSoftmaxSystem(TransformerSystem):
    name = "bert-softmax"
    description = (
        "Pretrained transformer token classifier (BertForTokenClassification style): "
        "dropout, a linear layer and softmax cross-entropy on each word's first piece."
    )
    labels_from_spans = True
    Config = BertSoftmaxConfig
    config: BertSoftmaxConfig

    def uses_pooler(self) -> bool:
        return False

    def make_model(
        self, backbone: nn.Module, pooler_state: dict[str, torch.Tensor] | None
    ) -> nn.Module:
        return SoftmaxTagger(backbone, len(self.codec), self.config.dropout)
