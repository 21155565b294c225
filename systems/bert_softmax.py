"""``bert-softmax``: a token classifier in the style of ``BertForTokenClassification``.

The plain fine-tuning baseline of seed 003 (Parganiha): a pretrained encoder reads the
word pieces, dropout and one linear layer score every tag, and a softmax cross-entropy is
taken on the first piece of each word (``head=softmax``, see
:mod:`systems.neural.encoder_heads`). There is no CRF and no 7a classifier: a tweet is
positive for 7a when any span is predicted. Training follows the paper: AdamW, lr 5e-5,
4 epochs, the learning rate falling linearly to 0 (:class:`FineTuningConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass

from systems.neural.encoder_system import EncoderSystem, FineTuningConfig


@dataclass
class BertSoftmaxConfig(FineTuningConfig):
    """Options of ``--system bert-softmax`` (defaults: seed 003's fine-tuning recipe)."""


class BertSoftmaxSystem(EncoderSystem):
    name = "bert-softmax"
    description = (
        "Pretrained transformer token classifier (BertForTokenClassification style): "
        "dropout, a linear layer and softmax cross-entropy on each word's first piece."
    )
    labels_from_spans = True
    Config = BertSoftmaxConfig
    config: BertSoftmaxConfig
