"""System 1 of the ProfNER winners (Recognai, SMM4H 2021): one transformer, two task heads.

A pretrained Hugging Face encoder (``model=auto``: BETO where it can be had, else
multilingual-e5-small) reads the word pieces of a tweet's
spaCy word tokens; System 1's multitask heads sit on it (``head=crf``, see
:mod:`systems.neural.encoder_heads`): a tanh-pooled [CLS] classifier for 7a and a
first-piece CRF tagger for 7b, their losses summed. The encoder handling, training,
best-epoch selection and persistence are :class:`EncoderSystem`'s; this module fixes
the name and the paper's defaults (its best trial: batch 8, lr 3.03e-5, 4 epochs).
"""

from __future__ import annotations

from dataclasses import dataclass

from systems.neural.encoder_system import EncoderConfig, EncoderSystem
from systems.neural.gazetteer_features import GazetteerOptions


@dataclass
class TransformerConfig(EncoderConfig, GazetteerOptions):
    """Options of ``--system transformer``; training defaults are the paper's best trial."""


class TransformerSystem(EncoderSystem):
    name = "transformer"
    description = (
        "Pretrained transformer (BETO, or multilingual-e5-small offline) with a tanh-pooled "
        "[CLS] classifier for 7a and a first-word-piece CRF tagger for 7b, trained jointly "
        "(ProfNER winner, System 1)."
    )
    labels_from_spans = False
    Config = TransformerConfig
    config: TransformerConfig
