"""System 1 of the ProfNER winners (Recognai, SMM4H 2021): one transformer, two task heads.

A pretrained Hugging Face encoder (BETO by default) reads the word pieces of a tweet's
spaCy word tokens (see :mod:`systems.neural.subwords` for the dummy token that keeps
dropped words, first-piece pooling and windows for long documents). Two heads share it:

* 7a: the [CLS] vector through a tanh pooler initialised from the backbone's pretrained
  pooler when the checkpoint has one, dropout, a linear layer, cross-entropy;
* 7b: the first piece of every word, dropout, a linear layer and a CRF over the word-level
  tag sequence (BIO by default, BILOU as an option), negative log-likelihood.

The loss is the sum of both. Training, validation, best-epoch selection and persistence
come from :class:`systems.neural.base.NeuralSystem`; this module adds the backbone, which
is saved (config and tokenizer) next to the weights so a saved model loads offline.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from core.errors import HarnessError
from systems.neural.base import NeuralConfig, NeuralSystem
from systems.neural.examples import Example
from systems.neural.heads import CrfTagger, LabelClassifier
from systems.neural.subwords import (
    DEFAULT_DUMMY,
    SubwordEncoder,
    document_vectors,
    first_pieces,
)

log = logging.getLogger("harness")

#: sub-folder of a saved model with the encoder's config.json and the tokenizer files
BACKBONE_FOLDER = "backbone"


@dataclass
class TransformerConfig(NeuralConfig):
    """Options of ``--system transformer``; training defaults are the paper's best trial."""

    #: Hugging Face hub name or local folder of the pretrained encoder
    model: str = "dccuchile/bert-base-spanish-wwm-cased"
    #: replaces word tokens the subword tokenizer drops ("\n", some emoji), as in the paper
    dummy_token: str = DEFAULT_DUMMY
    #: word pieces per window including special tokens (capped by the model's own limit)
    max_length: int = 512
    #: word pieces of context shared by consecutive windows of a long document
    window_stride: int = 128


class TransformerTagger(nn.Module):
    """Encoder + tanh pooler + 7a classifier + first-piece CRF tagger."""

    def __init__(
        self,
        encoder: nn.Module,
        num_tags: int,
        dropout: float,
        pooler_state: dict[str, torch.Tensor] | None = None,
    ):
        super().__init__()
        hidden = encoder.config.hidden_size
        self.encoder = encoder
        self.pooler = nn.Linear(hidden, hidden)
        if pooler_state is not None:
            self.pooler.load_state_dict(pooler_state)
        else:
            nn.init.normal_(
                self.pooler.weight, std=getattr(encoder.config, "initializer_range", 0.02)
            )
            nn.init.zeros_(self.pooler.bias)
        self.classifier = LabelClassifier(hidden, dropout)
        self.tagger = CrfTagger(hidden, num_tags, dropout)

    def features(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(pooled tweet vectors, word features) for a batch from :class:`SubwordEncoder`."""
        hidden = self.encoder(
            input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
        ).last_hidden_state
        documents = batch["word_index"].shape[0]
        cls = document_vectors(hidden[:, 0], batch["window_doc"], documents)
        pooled = torch.tanh(self.pooler(cls))
        return pooled, first_pieces(hidden, batch["word_index"])

    def forward(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        pooled, words = self.features(batch)
        logits = self.classifier(pooled)
        loss_7a = nn.functional.cross_entropy(logits, batch["labels"])
        loss_7b = self.tagger.loss(words, batch["tags"], batch["word_mask"])
        return {"loss": loss_7a + loss_7b, "loss_7a": loss_7a, "loss_7b": loss_7b}

    def decode(self, batch: dict[str, torch.Tensor]) -> tuple[list[int], list[list[int]]]:
        pooled, words = self.features(batch)
        labels = self.classifier(pooled).argmax(-1).tolist()
        return labels, self.tagger.decode(words, batch["word_mask"])


def detach_pooler(encoder: nn.Module) -> dict[str, torch.Tensor] | None:
    """Remove the encoder's own pooler and return its dense layer's weights, if any.

    The system's pooler replaces it (so it also pools averaged windows); removing it keeps
    unused parameters out of the optimiser and the parameter count.
    """
    pooler = getattr(encoder, "pooler", None)
    if pooler is None:
        return None
    dense = getattr(pooler, "dense", None)
    state = (
        {k: v.detach().clone() for k, v in dense.state_dict().items()}
        if isinstance(dense, nn.Linear)
        else None
    )
    encoder.pooler = None
    return state


@contextlib.contextmanager
def quiet_loading(show_progress: bool) -> Iterator[None]:
    """Hide transformers' loading and saving progress bars unless progress is wanted."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    if not show_progress:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def _looks_like_path(name: str) -> bool:
    """Hub names are ``model`` or ``org/model``; anything else is meant as a folder."""
    return name.startswith(("/", ".", "~")) or name.count("/") > 1 or "\\" in name


def _load_error(name: str, err: Exception) -> HarnessError:
    """One line from transformers' multi-line loading errors, with what to do about it."""
    if not Path(name).expanduser().exists() and _looks_like_path(name):
        return HarnessError(f"transformer: model folder {name!r} does not exist")
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    reason = lines[0] if lines else type(err).__name__
    hint = ""
    if not Path(name).exists():
        hint = " (offline? pass a downloaded model folder with -o model=PATH)"
    return HarnessError(f"transformer: cannot load model {name!r}: {reason}{hint}")


LOAD_ERRORS = (OSError, ValueError, KeyError, ImportError)


def load_tokenizer(name: str) -> Any:
    """A fast tokenizer by hub name or folder; a slow-only tokenizer is an error."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
    except LOAD_ERRORS as err:
        raise _load_error(name, err) from None
    if not getattr(tokenizer, "is_fast", False):
        raise HarnessError(
            f"transformer: model {name!r} has no fast tokenizer "
            f"({type(tokenizer).__name__}); word_ids are needed to map pieces to words"
        )
    return tokenizer


def load_pretrained_encoder(name: str, show_progress: bool) -> tuple[nn.Module, bool]:
    """The pretrained encoder and whether its checkpoint had pooler weights."""
    from transformers import AutoModel

    try:
        with quiet_loading(show_progress):
            encoder, info = AutoModel.from_pretrained(
                name, output_loading_info=True, dtype=torch.float32
            )
    except LOAD_ERRORS as err:
        raise _load_error(name, err) from None
    missing = set(info.get("missing_keys", ()))
    return encoder, not any(key.startswith("pooler.") for key in missing)


def encoder_from_config(config: Any) -> nn.Module:
    """An untrained encoder of a saved architecture (weights come from the safetensors)."""
    from transformers import AutoModel

    return AutoModel.from_config(config)


def effective_max_length(requested: int, tokenizer: Any, encoder_config: Any) -> int:
    """``requested`` capped by the tokenizer's and the position embeddings' limits."""
    limits = [requested]
    tokenizer_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tokenizer_limit, int) and tokenizer_limit < 1_000_000:
        limits.append(tokenizer_limit)
    positions = getattr(encoder_config, "max_position_embeddings", None)
    if isinstance(positions, int) and positions > 0:
        limits.append(positions)
    return min(limits)


class TransformerSystem(NeuralSystem):
    name = "transformer"
    description = (
        "Pretrained transformer (BETO by default) with a tanh-pooled [CLS] classifier for 7a "
        "and a first-word-piece CRF tagger for 7b, trained jointly (ProfNER winner, System 1)."
    )
    labels_from_spans = False
    Config = TransformerConfig
    config: TransformerConfig

    def __init__(self, config: TransformerConfig | None = None):
        super().__init__(config)
        self.tokenizer: Any = None
        self.subwords: SubwordEncoder | None = None

    # -- building ----------------------------------------------------------------------------

    def _set_tokenizer(self, tokenizer: Any, encoder_config: Any) -> int:
        max_length = effective_max_length(self.config.max_length, tokenizer, encoder_config)
        self.tokenizer = tokenizer
        self.subwords = SubwordEncoder(
            tokenizer, max_length, self.config.window_stride, self.config.dummy_token
        )
        return max_length

    def build(self, train: Sequence[Example]) -> dict[str, Any]:
        cfg = self.config
        tokenizer = load_tokenizer(cfg.model)
        backbone, has_pooler = load_pretrained_encoder(cfg.model, self.show_progress)
        max_length = self._set_tokenizer(tokenizer, backbone.config)
        pooler_state = detach_pooler(backbone)
        if not has_pooler:
            pooler_state = None
        if self.uses_pooler() and pooler_state is None:
            log.info(
                "%s: %s has no pretrained pooler; the pooler starts random", self.name, cfg.model
            )
        self.model = self.make_model(backbone, pooler_state)
        architecture = {
            "model": cfg.model,
            "model_type": getattr(backbone.config, "model_type", None),
            "hidden_size": backbone.config.hidden_size,
            "num_tags": len(self.codec),
            "tags": list(self.codec.labels),
            "max_length": max_length,
            "pretrained_pooler": pooler_state is not None,
            "backbone": BACKBONE_FOLDER,
        }
        if not self.uses_pooler():
            del architecture["pretrained_pooler"]
        return architecture

    def uses_pooler(self) -> bool:
        """Whether the network has System 1's [CLS] pooler (and so its 7a classifier)."""
        return True

    def make_model(
        self, backbone: nn.Module, pooler_state: dict[str, torch.Tensor] | None
    ) -> nn.Module:
        """System 1's two-headed network on ``backbone``; systems with other heads override
        it. ``pooler_state``: the checkpoint's pooler weights (``None`` when rebuilding a
        saved model, whose weights come from its own file)."""
        return TransformerTagger(backbone, len(self.codec), self.config.dropout, pooler_state)

    def rebuild(self, architecture: dict[str, Any], folder: Path) -> None:
        from transformers import AutoConfig

        backbone_folder = folder / architecture.get("backbone", BACKBONE_FOLDER)
        if not backbone_folder.is_dir():
            raise HarnessError(f"{folder}: cannot load model ({backbone_folder.name}/ missing)")
        if architecture.get("tags") not in (None, list(self.codec.labels)):
            raise HarnessError(f"{folder}: tag set does not match the saved config")
        tokenizer = load_tokenizer(str(backbone_folder))
        try:
            encoder_config = AutoConfig.from_pretrained(str(backbone_folder))
        except LOAD_ERRORS as err:
            raise _load_error(str(backbone_folder), err) from None
        backbone = encoder_from_config(encoder_config)
        detach_pooler(backbone)
        self._set_tokenizer(tokenizer, encoder_config)
        self.model = self.make_model(backbone, None)

    def save_extra(self, folder: Path) -> None:
        encoder = self._model().encoder
        assert isinstance(encoder, nn.Module)
        target = folder / BACKBONE_FOLDER
        target.mkdir(parents=True, exist_ok=True)
        encoder.config.save_pretrained(str(target))
        self.tokenizer.save_pretrained(str(target))

    # -- batches -----------------------------------------------------------------------------

    def collate(self, examples: Sequence[Example], with_gold: bool) -> dict[str, Any]:
        if self.subwords is None:
            raise HarnessError(f"{self.name}: the system is not trained or loaded")
        batch = self.subwords.encode([[t.text for t in e.tokens] for e in examples])
        if with_gold:
            tags = torch.zeros_like(batch["word_index"])
            for i, example in enumerate(examples):
                if example.tags:
                    tags[i, : len(example.tags)] = torch.tensor(example.tags)
            batch["tags"] = tags
            batch["labels"] = torch.tensor([int(e.label or 0) for e in examples])
        return {k: v.to(self.device) for k, v in batch.items()}
