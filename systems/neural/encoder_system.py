"""``EncoderSystem``: a pretrained Hugging Face encoder with a pluggable task head.

What every transformer system shares lives here once: the encoder by hub name or
folder (:mod:`systems.neural.encoders`), the word pieces of the tweet's spaCy word tokens
with the dummy token for words the tokenizer drops, first-piece pooling and windows for
long documents (:mod:`systems.neural.subwords`), and persistence of the encoder's config
and tokenizer beside the weights so a saved model loads offline. The head
(:mod:`systems.neural.encoder_heads`) is an option; each registered system is this class
with its paper's head and training recipe as defaults.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from core.errors import HarnessError
from core.inference_paths import PRECISIONS, paths, prefer
from systems.neural.base import NeuralConfig, NeuralSystem
from systems.neural.encoder_catalog import AUTO, resolve_model, settle_model
from systems.neural.encoder_heads import HEADS, EncoderTagger, Pooling, make_head
from systems.neural.encoders import (
    BACKBONE_FOLDER,
    detach_pooler,
    effective_max_length,
    encoder_from_config,
    load_encoder_config,
    load_pretrained_encoder,
    load_tokenizer,
)
from systems.neural.engines import ENCODER, ENCODER_ENGINES
from systems.neural.examples import Example
from systems.neural.gazetteer_features import flag_batch, flag_count
from systems.neural.piece_vocabulary import PIECES_FILE, EmbeddingPolicy, PieceMap, apply_policy
from systems.neural.subwords import DEFAULT_DUMMY, SubwordEncoder
from systems.neural.training import make_optimizer

log = logging.getLogger("harness")

HeadKind = Literal["crf", "softmax", "mlp"]


@dataclass
class EncoderConfig(NeuralConfig):
    """Options of every transformer system; training defaults are System 1's best trial."""

    #: auto (the paper's BETO where it can be had, else multilingual-e5-small installed
    #: from the e5 extra), an installed encoder's name (``harness encoders list``), a
    #: local folder or a Hugging Face hub name
    model: str = AUTO
    #: task head: crf (System 1's multitask heads), softmax (token classifier), mlp
    head: HeadKind = "crf"
    #: hidden width of the mlp head
    head_hidden: int = 256
    #: learning rate of the task heads (0: lr). A CRF's transitions start near zero and
    #: move by about lr per step, so at an encoder's lr they barely leave their start
    head_lr: float = 0.0
    #: what the crf head's 7a pooler reads: cls, mean (every piece), or auto (cls when the
    #: checkpoint has a pretrained pooler, else mean)
    pooling: Literal["auto", "cls", "mean"] = "auto"
    #: the word-piece embedding table: train, freeze, or corpus (cut to the training
    #: tweets' pieces, then trained; see systems/neural/piece_vocabulary.py). corpus is
    #: the fastest step of the three (README, Encoders by name) and still trains the rows
    #: the tweets use
    embeddings: EmbeddingPolicy = "corpus"
    #: replaces word tokens the subword tokenizer drops ("\n", some emoji), as in the paper
    dummy_token: str = DEFAULT_DUMMY
    #: word pieces per window including special tokens (capped by the model's own limit)
    max_length: int = 512
    #: word pieces of context shared by consecutive windows of a long document
    window_stride: int = 128


@dataclass
class FineTuningConfig(EncoderConfig):
    """Hugging Face's token-classification fine-tuning recipe with the softmax head.

    ``Trainer``'s defaults as ``run_ner.py`` uses them: AdamW at lr 5e-5, no weight decay,
    no warm-up, the rate falling linearly to 0, the gradient norm clipped at 1.0.
    """

    head: HeadKind = "softmax"
    batch_size: int = 32
    lr: float = 5e-5
    weight_decay: float = 0.0
    epochs: int = 4
    warmup_steps: int = 0
    max_grad_norm: float = 1.0


class EncoderSystem(NeuralSystem):
    """Base of the transformer systems; subclasses set name, description and Config."""

    Config = EncoderConfig
    config: EncoderConfig
    cpu_bf16 = True

    def __init__(self, config: EncoderConfig | None = None):
        super().__init__(config)
        if self.config.head not in HEADS:
            raise HarnessError(
                f"{self.name}: unknown head {self.config.head!r} (use {', '.join(HEADS)})"
            )
        # the head decides where 7a comes from
        self.labels_from_spans = not self.uses_pooler()  # type: ignore[misc]
        self.tokenizer: Any = None
        self.subwords: SubwordEncoder | None = None
        self.piece_map: PieceMap | None = None
        self.pooling: Pooling = "cls"

    def uses_pooler(self) -> bool:
        """Whether the head has System 1's [CLS] pooler (and so its own 7a classifier)."""
        return HEADS[self.config.head].classifies_tweets

    # -- building ----------------------------------------------------------------------------

    def _set_tokenizer(self, tokenizer: Any, encoder_config: Any) -> int:
        max_length = effective_max_length(self.config.max_length, tokenizer, encoder_config)
        self.tokenizer = tokenizer
        self.subwords = SubwordEncoder(
            tokenizer, max_length, self.config.window_stride, self.config.dummy_token
        )
        return max_length

    def settle(self) -> dict[str, dict[str, str]]:
        return settle_model(self.config)

    def build(self, train: Sequence[Example]) -> dict[str, Any]:
        cfg = self.config
        self.settle()  # a no-op after harness run has settled it
        source = resolve_model(cfg.model)
        tokenizer = load_tokenizer(source)
        backbone, has_pooler = load_pretrained_encoder(source, self.show_progress)
        max_length = self._set_tokenizer(tokenizer, backbone.config)
        # the head's pooler replaces the encoder's own (so it also pools averaged windows)
        pooler_state = detach_pooler(backbone)
        if not has_pooler:
            pooler_state = None
        if cfg.embeddings == "corpus":
            self._cut_vocabulary(backbone, train)
        apply_policy(cfg.embeddings, backbone)
        self.pooling = self._pooling(pooler_state is not None)
        self.model = self.make_model(backbone, pooler_state)
        architecture = {
            "model": cfg.model,
            "model_type": getattr(backbone.config, "model_type", None),
            "hidden_size": backbone.config.hidden_size,
            "head": cfg.head,
            "num_tags": len(self.codec),
            "tags": list(self.codec.labels),
            "max_length": max_length,
            "backbone": BACKBONE_FOLDER,
        }
        if self.uses_pooler():
            architecture["pretrained_pooler"] = pooler_state is not None
            architecture["pooling"] = self.pooling
        if self.piece_map is not None:
            architecture["pieces"] = PIECES_FILE
            architecture["kept_pieces"] = len(self.piece_map)
        return architecture

    def _pooling(self, pretrained_pooler: bool) -> Pooling:
        """The crf head's pooling: as configured, or by whether a pretrained pooler exists."""
        if self.config.pooling != "auto":
            return self.config.pooling
        if self.uses_pooler() and not pretrained_pooler:
            log.info(
                "%s: %s has no pretrained pooler; 7a pools the mean of all pieces",
                self.name,
                self.config.model,
            )
            return "mean"
        return "cls"

    def _cut_vocabulary(self, backbone: nn.Module, train: Sequence[Example]) -> None:
        """Keep only the embedding rows of the training tweets' pieces."""
        assert self.subwords is not None
        words = [[t.text for t in e.tokens] for e in train]
        dummy = self.tokenizer(self.config.dummy_token, add_special_tokens=False)["input_ids"]
        self.piece_map = PieceMap.of_corpus(backbone, self.subwords, words, extra=dummy)
        self.piece_map.shrink(backbone)
        size = len(self.piece_map.table)
        log.info("%s: embedding table cut to %d of %d pieces", self.name, len(self.piece_map), size)

    def make_model(
        self, backbone: nn.Module, pooler_state: dict[str, torch.Tensor] | None
    ) -> EncoderTagger:
        """The encoder with the configured head. ``pooler_state``: the checkpoint's pooler
        weights (``None`` when rebuilding a saved model, whose weights are its own)."""
        cfg = self.config
        head = make_head(
            cfg.head,
            backbone.config.hidden_size,
            len(self.codec),
            cfg.dropout,
            head_hidden=cfg.head_hidden,
            pooler_state=pooler_state,
            init_range=getattr(backbone.config, "initializer_range", 0.02),
            pooling=self.pooling,
            gazetteer_flags=flag_count(self.codec.types) if self.gazetteer is not None else 0,
        )
        return EncoderTagger(backbone, head)

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        """AdamW with the encoder at ``lr`` and the task heads at ``head_lr``."""
        assert isinstance(model, EncoderTagger)
        cfg = self.config
        return make_optimizer(model, cfg.lr, cfg.weight_decay, {"head": cfg.head_lr or cfg.lr})

    def rebuild(self, architecture: dict[str, Any], folder: Path) -> None:
        backbone_folder = folder / architecture.get("backbone", BACKBONE_FOLDER)
        if not backbone_folder.is_dir():
            raise HarnessError(f"{folder}: cannot load model ({backbone_folder.name}/ missing)")
        if architecture.get("tags") not in (None, list(self.codec.labels)):
            raise HarnessError(f"{folder}: tag set does not match the saved config")
        if architecture.get("head", self.config.head) != self.config.head:
            raise HarnessError(f"{folder}: head does not match the saved config")
        tokenizer = load_tokenizer(str(backbone_folder))
        encoder_config = load_encoder_config(backbone_folder)
        backbone = encoder_from_config(encoder_config)
        detach_pooler(backbone)
        self._set_tokenizer(tokenizer, encoder_config)
        if architecture.get("pieces"):
            self.piece_map = PieceMap.read(folder, tokenizer.unk_token_id)
        saved_pooling = architecture.get("pooling", "cls")
        if saved_pooling not in ("cls", "mean"):
            raise HarnessError(f"{folder}: unknown pooling {saved_pooling!r} in the saved config")
        self.pooling = saved_pooling
        self.model = self.make_model(backbone, None)

    def encoder(self) -> nn.Module:
        """The encoder of the built or loaded network."""
        model = self._model()
        assert isinstance(model, EncoderTagger)
        return model.encoder

    #: every precision on PyTorch, and the encoder on each encoder engine
    inference_paths = paths(
        torch=" ".join(PRECISIONS),
        **{name: " ".join(engine.precisions) for name, engine in ENCODER_ENGINES.items()},
    )
    #: measured (docs/benchmarks.md): with AMX, OpenVINO's bf16 gives fp32's spans and is
    #: faster one tweet at a time than PyTorch's; with VNNI but no AMX (AMD Zen 4),
    #: OpenVINO's int8 was as fast or faster than its bf16 and kept F1; without VNNI,
    #: ONNX Runtime's int8 was faster than PyTorch's and OpenVINO's int8
    auto_preferences = prefer(
        ("openvino", "bf16", "bf16 on OpenVINO with AMX: fastest measured, F1 kept", "amx_bf16"),
        (
            "openvino",
            "int8",
            "int8 on OpenVINO with VNNI: fastest measured without AMX, F1 kept",
            "avx512_vnni avx_vnni amx_int8",
        ),
        ("torch", "bf16", "native bf16: F1 kept"),
        ("onnxruntime", "int8", "int8 on ONNX Runtime: fastest measured without bf16, F1 kept"),
        ("torch", "int8", "int8: F1 kept"),
    )

    #: ONNX Runtime or OpenVINO take the encoder; heads and CRF stay in PyTorch fp32
    heavy_layers = ENCODER

    def save_extra(self, folder: Path) -> None:
        target = folder / BACKBONE_FOLDER
        target.mkdir(parents=True, exist_ok=True)
        self.encoder().config.save_pretrained(str(target))
        self.tokenizer.save_pretrained(str(target))
        if self.piece_map is not None:
            self.piece_map.write(folder)

    # -- batches -----------------------------------------------------------------------------

    def collate(self, examples: Sequence[Example], with_gold: bool) -> dict[str, Any]:
        if self.subwords is None:
            raise HarnessError(f"{self.name}: the system is not trained or loaded")
        batch = self.subwords.encode([[t.text for t in e.tokens] for e in examples])
        if self.piece_map is not None:
            batch["input_ids"] = self.piece_map(batch["input_ids"])
        if self.gazetteer is not None:
            batch["gazetteer"] = flag_batch(examples, batch["word_index"].shape[1])
        if with_gold:
            tags = torch.zeros_like(batch["word_index"])
            for i, example in enumerate(examples):
                if example.tags:
                    tags[i, : len(example.tags)] = torch.tensor(example.tags)
            batch["tags"] = tags
            batch["labels"] = torch.tensor([int(e.label or 0) for e in examples])
        return {k: v.to(self.device) for k, v in batch.items()}
