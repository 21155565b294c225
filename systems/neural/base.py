"""``NeuralSystem``: fit/predict/save/load for every PyTorch system of the harness.

A subclass supplies ``build`` (vocabulary and model from the training examples),
``rebuild`` (the same from a saved folder), ``collate`` (examples -> tensors) and a model
whose ``forward(batch)`` returns ``{"loss": ...}`` and whose ``decode(batch)`` returns 7a
labels and word-level tag ids. Everything else -- the epoch loop with validation F1 after
each epoch, keeping the best epoch, learning curves, seeding, device placement, length-
sorted prediction batches, safetensors persistence -- lives here once.
"""

from __future__ import annotations

import json
import logging
import time
from abc import abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch.optim.lr_scheduler import LRScheduler
from tqdm import tqdm

from core.corpus import Split
from core.errors import HarnessError
from core.inference_paths import PRECISIONS, InferencePath, paths, prefer
from core.system import System, SystemConfig
from core.tweets import Prediction, Tweet
from eval import score_predictions
from systems.gazetteer import Gazetteer
from systems.neural.engines import RECURRENT, RECURRENT_ENGINES, switch
from systems.neural.examples import Example, TagCodec, make_examples, predict_examples
from systems.neural.gazetteer_features import (
    GazetteerOptions,
    attach_flags,
    attach_training_flags,
    describe,
)
from systems.neural.saved_networks import (
    fill_weights,
    read_architecture,
    read_gazetteer,
    read_history,
    write_network,
)
from systems.neural.training import (
    Precision,
    linear_warmup_decay,
    make_optimizer,
    optimizer_steps,
    pick_device,
)

log = logging.getLogger("harness")


@dataclass
class Optimization:
    """What one training pass updates: optimiser, schedule, precision, shuffling."""

    optimizer: torch.optim.Optimizer
    scheduler: LRScheduler
    precision: Precision
    #: draws the order of the examples
    generator: torch.Generator


@dataclass
class NeuralConfig(SystemConfig):
    """Training settings shared by the neural systems (the paper's System 1 best trial)."""

    #: tag scheme of the 7b head: BIO or BILOU
    scheme: str = "BIO"
    batch_size: int = 8
    lr: float = 3.03e-5
    weight_decay: float = 1.79e-3
    epochs: int = 4
    warmup_steps: int = 49
    dropout: float = 0.1
    #: batches whose gradients are summed before one optimiser step
    grad_accum: int = 1
    #: clip the gradient norm to this value (0: no clipping)
    max_grad_norm: float = 0.0
    #: auto (CUDA when present), cpu, cuda, cuda:N
    device: str = "auto"
    #: mixed-precision training: on CUDA bf16 where supported, else fp16 with loss
    #: scaling; on the CPU bf16 for the transformer systems where the CPU computes
    #: bfloat16 natively (amx_bf16, avx512_bf16), else fp32
    amp: bool = True
    #: keep the epoch with the best validation 7b strict F1 (needs a valid split)
    select_best: bool = True
    #: batch size for prediction
    predict_batch_size: int = 32


class NeuralSystem(System):
    """Base of the PyTorch systems; see the module docstring for the subclass contract."""

    Config = NeuralConfig
    config: NeuralConfig
    #: train under bf16 autocast on a CPU with native bfloat16 (``amp``): what pays for a
    #: transformer's large matrix products; the RNNs' small recurrent steps stay fp32
    cpu_bf16: ClassVar[bool] = False

    def __init__(self, config: NeuralConfig | None = None):
        super().__init__(config)
        self.codec = TagCodec(self.config.types, self.config.scheme)
        self.model: torch.nn.Module | None = None
        self.architecture: dict[str, Any] = {}
        self.device = torch.device("cpu")
        #: called with each epoch's record (the tuner reports it to its scheduler)
        self.epoch_callback: Callable[[dict[str, Any]], None] | None = None
        #: flags unseen tweets (systems with ``GazetteerOptions`` and a source set)
        self.gazetteer: Gazetteer | None = None

    # -- the subclass contract -------------------------------------------------------------

    @abstractmethod
    def build(self, train: Sequence[Example]) -> dict[str, Any]:
        """Create vocabularies and ``self.model``; return the JSON architecture."""

    @abstractmethod
    def rebuild(self, architecture: dict[str, Any], folder: Path) -> None:
        """Create ``self.model`` (untrained) and vocabularies from a saved folder."""

    @abstractmethod
    def collate(self, examples: Sequence[Example], with_gold: bool) -> dict[str, Any]:
        """Tensors for a batch, on ``self.device``."""

    def save_extra(self, folder: Path) -> None:
        """Write vocabularies or tokenizer files next to the weights."""

    def make_optimizer(self, model: torch.nn.Module) -> torch.optim.Optimizer:
        """AdamW (the ProfNER winners' optimiser); a system trained otherwise overrides it."""
        return make_optimizer(model, self.config.lr, self.config.weight_decay)

    def make_scheduler(self, optimizer: torch.optim.Optimizer, total_steps: int) -> LRScheduler:
        """Linear warm-up then linear decay over ``total_steps`` optimiser steps."""
        return linear_warmup_decay(optimizer, self.config.warmup_steps, total_steps)

    # -- training --------------------------------------------------------------------------

    def fit(self, train: Sequence[Tweet], valid: Sequence[Tweet] | None = None) -> NeuralSystem:
        """Train for ``epochs``; with ``valid`` and ``select_best``, end on the weights of
        the epoch with the best valid 7b strict F1 (the first of equal ones).

        Seeding: ``torch.manual_seed(seed)`` (initialisation, dropout) and a generator of
        its own for the order of the examples. Deterministic kernels are not requested
        (``torch.use_deterministic_algorithms`` is never called), so one seed repeats a
        fit exactly on the CPU with the same machine and thread count, while on CUDA some
        backward kernels may differ in the last bits.
        """
        cfg = self.config
        torch.manual_seed(cfg.seed)
        generator = torch.Generator().manual_seed(cfg.seed)
        self.device = pick_device(cfg.device)
        train_examples = make_examples(train, self.codec, with_gold=True)
        valid_examples = make_examples(valid, self.codec, with_gold=True) if valid else None
        if isinstance(cfg, GazetteerOptions):
            self.gazetteer = attach_training_flags(
                cfg, train, train_examples, self.codec.types, cfg.seed
            )
            attach_flags(self.gazetteer, valid_examples or ())
        self.architecture = self.build(train_examples)
        if self.gazetteer is not None and isinstance(cfg, GazetteerOptions):
            self.architecture["gazetteer"] = describe(self.gazetteer, cfg)
        model = self._model().to(self.device)
        precision = Precision(self.device, cfg.amp, self.cpu_bf16)
        optimizer = self.make_optimizer(model)
        batches_per_epoch = -(-len(train_examples) // cfg.batch_size)
        total = optimizer_steps(batches_per_epoch, cfg.grad_accum, cfg.epochs)
        scheduler = self.make_scheduler(optimizer, total)
        optimization = Optimization(optimizer, scheduler, precision, generator)
        best: dict[str, Any] = {"f1": -1.0, "state": None}

        def validate() -> dict[str, Any]:
            if not valid_examples:
                return {}
            scores = self._validation_scores(valid_examples, valid or ())
            if scores["valid_7b_strict_f1"] > best["f1"]:
                best["f1"] = scores["valid_7b_strict_f1"]
                best["state"] = {
                    k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()
                }
            return scores

        self.history = self.train_epochs(
            model,
            train_examples,
            optimization,
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            score=validate,
            report=self.epoch_callback,
        )
        best_f1, best_state = best["f1"], best["state"]
        if cfg.select_best and best_state is not None:
            model.load_state_dict(best_state)
            log.info("%s: kept the epoch with valid 7b strict F1 %.4f", self.name, best_f1)
        return self

    def train_epochs(
        self,
        model: torch.nn.Module,
        examples: Sequence[Example],
        optimization: Optimization,
        *,
        epochs: int,
        batch_size: int,
        stage: str = "",
        loss_name: str = "train_loss",
        score: Callable[[], dict[str, Any]] | None = None,
        report: Callable[[dict[str, Any]], None] | None = None,
    ) -> list[dict[str, Any]]:
        """``epochs`` passes of :meth:`train_epoch`, one logged record each: the mean loss,
        the learning rate at the end, the training seconds per batch step (forward,
        backward and, every ``grad_accum`` batches, the optimiser), what ``score`` adds
        (validation F1), and the epoch's seconds in all; ``report`` gets each record as
        soon as it is complete (the tuner's scheduler decides on it)."""
        history: list[dict[str, Any]] = []
        steps = max(-(-len(examples) // batch_size), 1)
        prefix = f"{stage} " if stage else ""
        for epoch in range(1, epochs + 1):
            started = time.perf_counter()
            loss = self.train_epoch(
                model,
                examples,
                optimization,
                batch_size=batch_size,
                label=f"{prefix}epoch {epoch}/{epochs}",
            )
            record: dict[str, Any] = {
                "epoch": epoch,
                loss_name: round(loss, 6),
                "lr": optimization.scheduler.get_last_lr()[0],
                "seconds_per_step": round((time.perf_counter() - started) / steps, 4),
            }
            if score is not None:
                record.update(score())
            record["seconds"] = round(time.perf_counter() - started, 2)
            history.append(record)
            log.info("%s %sepoch %d: %s", self.name, prefix, epoch, json.dumps(record))
            if report is not None:
                report(record)
        return history

    def train_epoch(
        self,
        model: torch.nn.Module,
        examples: Sequence[Example],
        optimization: Optimization,
        *,
        batch_size: int,
        label: str,
    ) -> float:
        """One pass over ``examples`` in random order, ``model(batch)["loss"]`` minimised
        with gradient accumulation and clipping; returns the mean batch loss.

        ``fit`` runs it once per epoch; a system with a stage of its own before fitting
        (contrastive pre-training) runs it with another model over the same batches.
        """
        cfg = self.config
        model.train()
        order = torch.randperm(len(examples), generator=optimization.generator).tolist()
        batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        total_loss = 0.0
        bar = tqdm(
            batches,
            desc=f"{self.name}: {label}",
            unit="step",
            disable=not self.show_progress,
            leave=False,
        )
        precision = optimization.precision
        for step, indices in enumerate(bar, start=1):
            batch = self.collate([examples[i] for i in indices], with_gold=True)
            with precision.autocast():
                loss = model(batch)["loss"]
            if not torch.isfinite(loss):
                raise HarnessError(
                    f"{self.name}: training loss became {loss.item()} "
                    f"in {label}; lower the learning rate"
                )
            precision.backward(loss / cfg.grad_accum)
            total_loss += loss.item()
            if step % cfg.grad_accum == 0 or step == len(batches):
                precision.step(optimization.optimizer, model, cfg.max_grad_norm)
                optimization.scheduler.step()
            bar.set_postfix(loss=f"{total_loss / step:.4f}")
        return total_loss / max(len(batches), 1)

    def _validation_scores(
        self, examples: Sequence[Example], tweets: Sequence[Tweet]
    ) -> dict[str, float]:
        predictions = self._predict_examples(examples)
        report = score_predictions(predictions, Split("valid", list(tweets), True)).as_dict()
        scores = {"valid_7b_strict_f1": report["7b"]["strict"]["f1"]}
        if "7a" in report:
            scores["valid_7a_f1"] = report["7a"]["f1"]
        return scores

    # -- prediction ------------------------------------------------------------------------

    def predict(self, tweets: Sequence[Tweet]) -> list[Prediction]:
        examples = make_examples(tweets, self.codec, with_gold=False)
        attach_flags(self.gazetteer, examples)
        return self._predict_examples(examples)

    def _predict_examples(self, examples: Sequence[Example]) -> list[Prediction]:
        model = self._model()
        if model.training:  # eval() walks every module: a cost on each one-tweet call
            model.eval()
        return predict_examples(
            examples,
            self.codec,
            lambda chunk: model.decode(self.collate(chunk, with_gold=False)),
            batch_size=self.config.predict_batch_size,
            own_labels=not self.labels_from_spans,
            desc=f"{self.name}: predicting",
            show_progress=self.show_progress,
        )

    # -- persistence -----------------------------------------------------------------------

    def _model(self) -> torch.nn.Module:
        if self.model is None:
            raise HarnessError(f"{self.name}: the system is not trained or loaded")
        return self.model

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self._model().parameters())

    def save_model(self, folder: Path) -> None:
        write_network(folder, self._model(), self.architecture, self.history, self.gazetteer)
        self.save_extra(folder)

    @classmethod
    def load_model(cls, folder: Path, config: SystemConfig) -> NeuralSystem:  # type: ignore[override]
        system = cls(config)  # type: ignore[arg-type]
        system.architecture = architecture = read_architecture(folder)
        system.gazetteer = read_gazetteer(folder, architecture, system.codec.types)
        system.rebuild(architecture, folder)
        fill_weights(system._model(), folder)
        system.history = read_history(folder)
        system.device = torch.device("cpu")
        return system

    #: every precision on PyTorch; the recurrent layers on ONNX Runtime
    inference_paths = paths(
        torch=" ".join(PRECISIONS),
        **{name: " ".join(p) for name, p in RECURRENT_ENGINES.items()},
    )
    #: PyTorch's int8 recurrent layers were the fastest path on every CPU measured and
    #: kept F1 (docs/benchmarks.md); bf16 GRUs were slower than fp32 even with AMX
    auto_preferences = prefer(("torch", "int8", "int8 recurrent layers: fastest measured, F1 kept"))

    #: what an engine other than PyTorch takes over (``systems.neural.engines.switch``)
    heavy_layers: ClassVar[str] = RECURRENT

    def switch_path(self, path: InferencePath) -> None:
        self.model = switch(self._model(), path, self.heavy_layers, self.name)
        self.device = torch.device("cpu")

    def to(self, device: str) -> NeuralSystem:
        """Move a loaded system (e.g. to ``cuda`` for batch prediction)."""
        self.device = pick_device(device)
        self._model().to(self.device)
        return self
