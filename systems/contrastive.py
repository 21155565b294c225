"""``contrastive``: task-aware contrastive pre-training, then fine-tuning (seed 002).

Francis and Moens (IberLEF 2022) train in two stages:

1. **Supervised contrastive pre-training** of the encoder on the task's own training
   data. Projection heads turn each valid token's encoder state into a diagonal
   Gaussian, and the loss of Eqs. 4-6 (:mod:`systems.neural.contrastive_loss`) pulls
   tokens of the same tag together and pushes tokens of other tags apart, the distance
   being the symmetric KL divergence of their Gaussians. A token is a word, represented
   by its first piece as in the fine-tuning stage; special tokens, padding and a word's
   continuation pieces are not tokens. Batches are drawn without replacement.
2. **Fine-tuning** of the pre-trained encoder (the projection heads are dropped) with
   a softmax head and cross-entropy (Eq. 8; ``head=mlp`` adds a hidden layer of
   ``head_hidden`` units), or, as a variant (``head=crf``), with System 1's multitask
   heads (pooled [CLS] classifier for 7a, CRF tagger for 7b).

The pre-trained encoder is saved in Hugging Face format (weights, config, tokenizer) in
the model folder's ``encoder/``, so every transformer system can start from it:
``-o model=RUN/model/encoder``. Encoder loading, word pieces, first-piece pooling, the
heads and the fine-tuning loop are :class:`EncoderSystem`'s; the pre-training pass is
:meth:`NeuralSystem.train_epoch` with the contrastive model in place of the tagger.
"""

from __future__ import annotations

import copy
import logging
import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.errors import HarnessError
from systems.neural.base import Optimization
from systems.neural.contrastive_loss import GaussianProjection, contrastive_loss
from systems.neural.encoder_heads import word_features
from systems.neural.encoder_system import EncoderSystem, FineTuningConfig
from systems.neural.examples import Example
from systems.neural.piece_vocabulary import EmbeddingPolicy
from systems.neural.training import (
    Precision,
    linear_warmup_decay,
    make_optimizer,
    optimizer_steps,
)

log = logging.getLogger("harness")

#: sub-folder of a saved model with the contrastively pre-trained encoder (HF format)
ENCODER_FOLDER = "encoder"


@dataclass
class ContrastiveConfig(FineTuningConfig):
    """Options of ``--system contrastive`` (defaults: the paper's section 3.1).

    Both stages: AdamW, lr 5e-5, at most 128 word pieces per window, batches of 32, 20
    epochs each. The paper gives no weight decay or warm-up: none (the Hugging Face
    defaults), as in ``bert-softmax``. Fine-tuning head: softmax (the paper's Eq. 8).
    """

    epochs: int = 20
    max_length: int = 128
    #: the whole table: the pre-trained encoder is saved for any system to load, and a
    #: cut table would no longer match its tokenizer
    embeddings: EmbeddingPolicy = "train"
    #: contrastive pre-training epochs (0: fine-tune the encoder as loaded)
    pretrain_epochs: int = 20
    pretrain_lr: float = 5e-5
    pretrain_batch_size: int = 32
    #: dimension of the Gaussian embeddings
    gaussian_dim: int = 128


class GaussianPretrainer(nn.Module):
    """Encoder + projection heads; ``forward`` gives the contrastive loss of a batch."""

    def __init__(self, encoder: nn.Module, dim: int):
        super().__init__()
        self.encoder = encoder
        self.projection = GaussianProjection(encoder.config.hidden_size, dim)

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        mask = batch["word_mask"]
        mu, variance = self.projection(word_features(self.encoder, batch)[mask])
        return {"loss": contrastive_loss(mu.float(), variance.float(), batch["tags"][mask])}


class ContrastiveSystem(EncoderSystem):
    name = "contrastive"
    description = (
        "Supervised contrastive pre-training of a transformer over Gaussian token "
        "embeddings (symmetric KL), then fine-tuning with a softmax head (or System 1's "
        "CRF heads: head=crf, whose 7a comes from its classifier)."
    )
    labels_from_spans = True
    Config = ContrastiveConfig
    config: ContrastiveConfig

    def __init__(self, config: ContrastiveConfig | None = None):
        super().__init__(config)
        #: the encoder after pre-training, before fine-tuning (CPU copy), to be saved
        self.pretrained_encoder: nn.Module | None = None
        #: a saved model's encoder/ folder, copied when the loaded model is saved again
        self.encoder_source: Path | None = None
        self.pretraining: list[dict[str, Any]] = []

    # -- stage 1 ---------------------------------------------------------------------------

    def build(self, train: Sequence[Example]) -> dict[str, Any]:
        """Load the encoder and heads (System 1's build), then pre-train the encoder."""
        cfg = self.config
        if cfg.embeddings == "corpus" and cfg.pretrain_epochs > 0:
            raise HarnessError(
                f"{self.name}: embeddings=corpus would save a pre-trained encoder whose "
                "table no longer matches its tokenizer; use train or freeze"
            )
        architecture = super().build(train)
        if cfg.pretrain_epochs > 0:
            encoder = self.encoder()
            self.pretraining = self.pretrain(encoder, train)
            self.pretrained_encoder = copy.deepcopy(encoder).to("cpu")
            architecture["pretrained_encoder"] = ENCODER_FOLDER
        architecture["pretraining"] = self.pretraining
        return architecture

    def pretrain(self, encoder: nn.Module, train: Sequence[Example]) -> list[dict[str, Any]]:
        """Contrastive pre-training of ``encoder`` in place; returns the loss per epoch."""
        cfg = self.config
        model = GaussianPretrainer(encoder, cfg.gaussian_dim).to(self.device)
        optimizer = make_optimizer(model, cfg.pretrain_lr, cfg.weight_decay)
        total = optimizer_steps(
            math.ceil(len(train) / cfg.pretrain_batch_size), cfg.grad_accum, cfg.pretrain_epochs
        )
        optimization = Optimization(
            optimizer,
            linear_warmup_decay(optimizer, cfg.warmup_steps, total),
            Precision(self.device, cfg.amp, self.cpu_bf16),
            torch.Generator().manual_seed(cfg.seed),
        )
        return self.train_epochs(
            model,
            train,
            optimization,
            epochs=cfg.pretrain_epochs,
            batch_size=cfg.pretrain_batch_size,
            stage="contrastive pre-training",
            loss_name="contrastive_loss",
        )

    # -- persistence -----------------------------------------------------------------------

    def rebuild(self, architecture: dict[str, Any], folder: Path) -> None:
        super().rebuild(architecture, folder)
        self.pretraining = list(architecture.get("pretraining", []))
        source = folder / architecture.get("pretrained_encoder", ENCODER_FOLDER)
        self.encoder_source = source if source.is_dir() else None

    def save_extra(self, folder: Path) -> None:
        """System 1's backbone files, plus the pre-trained encoder as a loadable model."""
        super().save_extra(folder)
        target = folder / ENCODER_FOLDER
        if self.pretrained_encoder is not None:
            target.mkdir(parents=True, exist_ok=True)
            self.pretrained_encoder.save_pretrained(str(target))
            self.tokenizer.save_pretrained(str(target))
        elif self.encoder_source is not None and self.encoder_source.resolve() != target.resolve():
            shutil.copytree(self.encoder_source, target, dirs_exist_ok=True)
        elif self.architecture.get("pretrained_encoder") and not target.is_dir():
            raise HarnessError(f"{self.name}: the pre-trained encoder is missing; cannot save it")
