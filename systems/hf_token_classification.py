"""``hf-token-classification``: Hugging Face's own token-classification recipe, as a system.

The reference the harness's transformer systems are measured against: what a user gets
from ``examples/pytorch/token-classification/run_ner.py`` with no code of their own.
``AutoModelForTokenClassification`` on the encoder, the tweet's words (the same spaCy
tokens every system reads) tokenised with ``is_split_into_words``, each word's tag on its
first piece and -100 on the rest (``label_all_tokens=False``), dynamic padding by
``DataCollatorForTokenClassification``, and ``Trainer`` with its defaults: AdamW at lr 5e-5,
no weight decay, no warm-up, a linear decay to 0, the gradient norm clipped at 1.0, batch
8, 3 epochs, the last epoch's weights kept (no model selection on valid). Prediction takes
the arg-max tag of each word's first piece; a word without a piece of its own (dropped
by the tokenizer, or cut by truncation) is tagged O, as run_ner.py scores it. 7a is
positive when any span is found.

None of the harness's own training code is used, so a gap between this system and
``bert-softmax`` (the same model, trained by the harness) is a gap in the harness.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn
from transformers import (
    AutoModelForTokenClassification,
    DataCollatorForTokenClassification,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)

from core.errors import HarnessError
from core.fileio import atomic_directory, atomic_write_text
from core.inference_paths import AUTO, PRECISIONS, InferencePath, paths, prefer
from core.machine import cpu_supports_bf16
from core.system import System, SystemConfig
from core.tweets import Prediction, Tweet
from systems.neural.encoder_catalog import resolve_model, settle_model
from systems.neural.encoders import LOAD_ERRORS, effective_max_length, load_error, load_tokenizer
from systems.neural.examples import Example, TagCodec, make_examples, predict_examples
from systems.neural.inference import optimize_for_cpu
from systems.neural.piece_vocabulary import apply_policy
from systems.neural.training import pick_device

log = logging.getLogger("harness")

#: sub-folder of a saved model: the fine-tuned model and its tokenizer, as save_pretrained
#: writes them (loadable by ``AutoModelForTokenClassification`` alone)
MODEL_FOLDER = "model"
HISTORY_FILE = "history.json"
IGNORED = -100


@dataclass
class HfTokenClassificationConfig(SystemConfig):
    """Options of ``--system hf-token-classification``: ``TrainingArguments``' defaults."""

    #: auto (the paper's BETO where it can be had, else multilingual-e5-small), an
    #: installed encoder's name (``harness encoders list``), a local folder or a hub name
    model: str = AUTO
    #: tag scheme of the word labels: BIO or BILOU
    scheme: str = "BIO"
    lr: float = 5e-5
    epochs: float = 3.0
    batch_size: int = 8
    weight_decay: float = 0.0
    warmup_steps: int = 0
    max_grad_norm: float = 1.0
    #: the word-piece embedding table: train (as run_ner.py does) or freeze. Not in the
    #: recipe; on a CPU, a multilingual encoder's table is most of the work of a step
    embeddings: Literal["train", "freeze"] = "train"
    #: word pieces per tweet, special tokens included (capped by the model's own limit)
    max_length: int = 512
    #: auto (CUDA when present), cpu, cuda, cuda:N
    device: str = "auto"
    #: mixed precision: bf16 on CUDA where supported (else fp16), on a CPU with native
    #: bfloat16 (amx_bf16, avx512_bf16) bf16, else fp32
    amp: bool = True
    predict_batch_size: int = 32


class WordPieceDataset(torch.utils.data.Dataset):
    """Tokenised training tweets with run_ner.py's labels: a word's tag on its first
    piece, -100 elsewhere (special tokens, later pieces)."""

    def __init__(self, examples: Sequence[Example], tokenizer: Any, max_length: int):
        words = [[t.text for t in e.tokens] for e in examples]
        encoded = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
        self.items: list[dict[str, Any]] = []
        for i, example in enumerate(examples):
            assert example.tags is not None
            labels, previous = [], None
            for word in encoded.word_ids(i):
                labels.append(IGNORED if word is None or word == previous else example.tags[word])
                previous = word
            item = {key: values[i] for key, values in encoded.items()}
            item["labels"] = labels
            self.items.append(item)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.items[index]


class HfTokenClassificationSystem(System):
    name = "hf-token-classification"
    description = (
        "Hugging Face reference recipe (run_ner.py): AutoModelForTokenClassification "
        "trained by Trainer with its defaults, first-piece labels; 7a from the spans."
    )
    labels_from_spans = True
    Config = HfTokenClassificationConfig
    config: HfTokenClassificationConfig

    def __init__(self, config: HfTokenClassificationConfig | None = None):
        super().__init__(config)
        self.codec = TagCodec(self.config.types, self.config.scheme)
        self.model: nn.Module | None = None
        self.tokenizer: Any = None
        self.max_length = self.config.max_length

    def settle(self) -> dict[str, dict[str, str]]:
        return settle_model(self.config)

    # -- training --------------------------------------------------------------------------

    def fit(
        self, train: Sequence[Tweet], valid: Sequence[Tweet] | None = None
    ) -> HfTokenClassificationSystem:
        """Train as ``Trainer.train()`` does; ``valid`` is not used (run_ner.py keeps the
        last epoch's weights)."""
        cfg = self.config
        set_seed(cfg.seed)  # before the classifier layer is drawn, as run_ner.py does
        self.settle()  # a no-op after harness run has settled it
        source = resolve_model(cfg.model)
        self.tokenizer = load_tokenizer(source)
        self.model = self._pretrained(source)
        apply_policy(cfg.embeddings, self.model)
        self.max_length = effective_max_length(cfg.max_length, self.tokenizer, self.model.config)
        examples = make_examples(train, self.codec, with_gold=True)
        dataset = WordPieceDataset(examples, self.tokenizer, self.max_length)
        epochs = EpochLog()
        with tempfile.TemporaryDirectory(prefix="hf-trainer-") as scratch:
            trainer = Trainer(
                model=self.model,
                args=self._arguments(scratch),
                train_dataset=dataset,
                data_collator=DataCollatorForTokenClassification(self.tokenizer),
                processing_class=self.tokenizer,
                callbacks=[epochs],
            )
            trainer.train()
        self.model = trainer.model
        self.history = epochs.records
        return self

    def _pretrained(self, source: str) -> nn.Module:
        labels = dict(enumerate(self.codec.labels))
        try:
            model, info = AutoModelForTokenClassification.from_pretrained(
                source,
                num_labels=len(labels),
                id2label=labels,
                label2id={v: k for k, v in labels.items()},
                output_loading_info=True,
                dtype=torch.float32,
            )
        except LOAD_ERRORS as err:
            raise load_error(source, err) from None
        lacking = [key for key in info.get("missing_keys", ()) if not key.startswith("classifier.")]
        if lacking:
            raise HarnessError(
                f"{self.name}: model {source!r}: the checkpoint lacks {len(lacking)} encoder "
                f"weight(s) (e.g. {sorted(lacking)[0]}); it would train from random weights"
            )
        return model

    def _arguments(self, scratch: str) -> Any:
        cfg = self.config
        device = pick_device(cfg.device)
        on_cpu = device.type == "cpu"
        if on_cpu:
            bf16 = cfg.amp and cpu_supports_bf16()
            fp16 = False
        else:
            bf16 = cfg.amp and torch.cuda.is_bf16_supported()
            fp16 = cfg.amp and not bf16
        return TrainingArguments(
            output_dir=scratch,
            learning_rate=cfg.lr,
            num_train_epochs=cfg.epochs,
            per_device_train_batch_size=cfg.batch_size,
            weight_decay=cfg.weight_decay,
            warmup_steps=cfg.warmup_steps,
            max_grad_norm=cfg.max_grad_norm,
            seed=cfg.seed,
            use_cpu=on_cpu,
            bf16=bf16,
            fp16=fp16,
            save_strategy="no",
            logging_strategy="epoch",
            report_to="none",
            disable_tqdm=not self.show_progress,
        )

    # -- prediction ------------------------------------------------------------------------

    def predict(self, tweets: Sequence[Tweet]) -> list[Prediction]:
        model = self._model()
        if model.training:  # eval() walks every module: a cost on each one-tweet call
            model.eval()
        device = next(model.parameters()).device

        def decode(chunk: Sequence[Example]) -> tuple[list[int], list[list[int]]]:
            tags = self._word_tags(model, chunk, device)
            return [0] * len(chunk), tags  # 7a follows the spans

        return predict_examples(
            make_examples(tweets, self.codec, with_gold=False),
            self.codec,
            decode,
            batch_size=self.config.predict_batch_size,
            own_labels=False,
            desc=f"{self.name}: predicting",
            show_progress=self.show_progress,
        )

    def _word_tags(
        self, model: nn.Module, chunk: Sequence[Example], device: torch.device
    ) -> list[list[int]]:
        """The arg-max tag of each word's first piece; O for words without a piece."""
        encoded = self.tokenizer(
            [[t.text for t in e.tokens] for e in chunk],
            is_split_into_words=True,
            truncation=True,
            max_length=self.max_length,
            padding=True,
            return_tensors="pt",
        )
        inputs = {k: v.to(device) for k, v in encoded.items()}
        best = model(**inputs).logits.argmax(-1).tolist()
        tags = []
        for i, example in enumerate(chunk):
            words = [0] * len(example.tokens)
            previous = None
            for piece, word in enumerate(encoded.word_ids(i)):
                if word is not None and word != previous:
                    words[word] = best[i][piece]
                previous = word
            tags.append(words)
        return tags

    # -- persistence -----------------------------------------------------------------------

    def _model(self) -> nn.Module:
        if self.model is None or self.tokenizer is None:
            raise HarnessError(f"{self.name}: the system is not trained or loaded")
        return self.model

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self._model().parameters())

    #: PyTorch only: the Hugging Face model is run as the recipe runs it
    inference_paths = paths(torch=" ".join(PRECISIONS))
    auto_preferences = prefer(
        ("torch", "bf16", "native bf16: F1 kept"), ("torch", "int8", "int8: F1 kept")
    )

    def switch_path(self, path: InferencePath) -> None:
        self.model = optimize_for_cpu(self._model(), path.precision, inplace=True)

    def save_model(self, folder: Path) -> None:
        model = self._model()
        with atomic_directory(folder / MODEL_FOLDER) as target:
            model.save_pretrained(str(target))
            self.tokenizer.save_pretrained(str(target))
        atomic_write_text(folder / HISTORY_FILE, json.dumps(self.history, indent=2))

    @classmethod
    def load_model(  # type: ignore[override]
        cls, folder: Path, config: SystemConfig
    ) -> HfTokenClassificationSystem:
        system = cls(config)  # type: ignore[arg-type]
        source = folder / MODEL_FOLDER
        if not (source / "config.json").is_file():
            raise HarnessError(f"{folder}: cannot load model ({MODEL_FOLDER}/config.json missing)")
        system.tokenizer = load_tokenizer(str(source))
        try:
            # a saved model is safetensors only: a pytorch_model.bin put in its place is a
            # pickle, and unpickling one can run code
            model = AutoModelForTokenClassification.from_pretrained(
                str(source), dtype=torch.float32, use_safetensors=True
            )
        except LOAD_ERRORS as err:
            raise load_error(str(source), err) from None
        saved = [model.config.id2label[i] for i in range(model.config.num_labels)]
        if saved != list(system.codec.labels):
            raise HarnessError(f"{folder}: tag set does not match the saved config")
        system.model = model
        system.max_length = effective_max_length(
            system.config.max_length, system.tokenizer, model.config
        )
        return system


class EpochLog(TrainerCallback):
    """A ``TrainerCallback``: one record per epoch (mean loss, learning rate, seconds per
    step, seconds), the shape of the harness's other systems' ``history``."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self._started = 0.0
        self._first_step = 0

    def on_epoch_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._started = time.perf_counter()
        self._first_step = state.global_step

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        seconds = time.perf_counter() - self._started
        steps = max(state.global_step - self._first_step, 1)
        self.records.append(
            {
                "epoch": len(self.records) + 1,
                "seconds_per_step": round(seconds / steps, 4),
                "seconds": round(seconds, 2),
            }
        )

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
        if logs and "loss" in logs and self.records:
            self.records[-1]["train_loss"] = round(float(logs["loss"]), 6)
            if "learning_rate" in logs:
                self.records[-1]["lr"] = logs["learning_rate"]
