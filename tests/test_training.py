"""The shared training loop (``NeuralSystem.fit``), its schedules, and the runner's check
of a system's predictions.

The loop is observed from the inside through a tiny tagger defined here (an embedding and
two linear layers, milliseconds per epoch): an optimiser step pre-hook records the
learning rate, the gradient norm and the gradients each step applies, and ``collate``
records the batches. Nothing here times anything.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner
from torch import nn

from core.corpus import Corpus, Split, load_corpus
from core.datasets import resolve
from core.errors import HarnessError
from core.system import System
from core.tagging import is_aligned, split_tag, tags_to_spans
from core.tokenization import Token
from core.tweets import Prediction, Span, Tweet
from eval import score_predictions
from harness import __version__, runner
from harness.cli import main
from harness.runner import (
    RunSettings,
    _training_tweets,
    build_system,
    check_predictions,
    read_config_file,
    summary_line,
)
from systems.lookup import LookupSystem
from systems.neural.base import NeuralConfig, NeuralSystem
from systems.neural.examples import Example
from systems.neural.training import (
    Precision,
    constant_schedule,
    linear_warmup_decay,
    optimizer_steps,
    parameter_groups,
    pick_device,
)
from systems.rnn import RnnConfig, RnnSystem
from tests.helpers import SMALL_RNN

# -- a tiny tagger that records what the loop does ----------------------------------------


@dataclass
class TinyConfig(NeuralConfig):
    batch_size: int = 4
    lr: float = 0.05
    weight_decay: float = 0.0
    epochs: int = 3
    warmup_steps: int = 0
    device: str = "cpu"
    amp: bool = False
    dim: int = 6
    #: multiplies the loss (large: gradients large enough to need clipping)
    loss_scale: float = 1.0


class TinyModel(nn.Module):
    def __init__(self, vocabulary: int, dim: int, tags: int, loss_scale: float):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, dim)
        self.tagger = nn.Linear(dim, tags)
        self.classifier = nn.Linear(dim, 2)
        self.loss_scale = loss_scale
        #: every training batch's loss, in order
        self.losses: list[float] = []

    def _encode(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.embed(batch["ids"])
        mask = batch["mask"]
        pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        return hidden, pooled

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        hidden, pooled = self._encode(batch)
        mask = batch["mask"]
        tag_loss = F.cross_entropy(self.tagger(hidden)[mask], batch["tags"][mask])
        label_loss = F.cross_entropy(self.classifier(pooled), batch["labels"])
        loss = self.loss_scale * (tag_loss + label_loss)
        self.losses.append(loss.item())
        return {"loss": loss}

    def decode(self, batch: dict[str, Any]) -> tuple[list[int], list[list[int]]]:
        hidden, pooled = self._encode(batch)
        return self.classifier(pooled).argmax(-1).tolist(), self.tagger(hidden).argmax(-1).tolist()


class TinyTagger(NeuralSystem):
    name = "tiny"
    Config = TinyConfig
    config: TinyConfig

    def __init__(self, config: TinyConfig | None = None):
        super().__init__(config)
        self.vocabulary: dict[str, int] = {}
        #: per optimiser step: lr, gradient norm, gradients by parameter name
        self.steps: list[dict[str, Any]] = []
        #: tweet ids of each training batch, in order
        self.batches: list[list[str]] = []

    def build(self, train: Sequence[Example]) -> dict[str, Any]:
        words = sorted({token.text for example in train for token in example.tokens})
        architecture = {"vocabulary": {word: i + 2 for i, word in enumerate(words)}}
        self.rebuild(architecture, Path("."))
        return architecture

    def rebuild(self, architecture: dict[str, Any], folder: Path) -> None:
        self.vocabulary = architecture["vocabulary"]
        cfg = self.config
        self.model = TinyModel(len(self.vocabulary) + 2, cfg.dim, len(self.codec), cfg.loss_scale)

    def collate(self, examples: Sequence[Example], with_gold: bool) -> dict[str, Any]:
        if with_gold:
            self.batches.append([example.tweet.id for example in examples])
        width = max(1, *(len(example.tokens) for example in examples))
        ids = torch.zeros(len(examples), width, dtype=torch.long)
        tags = torch.zeros(len(examples), width, dtype=torch.long)
        mask = torch.zeros(len(examples), width, dtype=torch.bool)
        for row, example in enumerate(examples):
            n = len(example.tokens)
            ids[row, :n] = torch.tensor([self.vocabulary.get(t.text, 1) for t in example.tokens])
            mask[row, :n] = True
            if example.tags is not None:
                tags[row, :n] = torch.tensor(example.tags)
        labels = torch.tensor([example.label or 0 for example in examples])
        return {"ids": ids, "tags": tags, "mask": mask, "labels": labels}

    def make_optimizer(self, model: nn.Module) -> torch.optim.Optimizer:
        optimizer = super().make_optimizer(model)
        optimizer.register_step_pre_hook(self._record_step)
        return optimizer

    def _record_step(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        grads = {
            name: p.grad.detach().clone()
            for name, p in self._model().named_parameters()
            if p.grad is not None
        }
        norm = torch.linalg.vector_norm(torch.stack([g.norm() for g in grads.values()]))
        self.steps.append(
            {"lr": optimizer.param_groups[0]["lr"], "norm": norm.item(), "grads": grads}
        )


def weights(system: NeuralSystem) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in system._model().state_dict().items()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def sample() -> tuple[list[Tweet], list[Tweet]]:
    corpus = load_corpus(resolve("sample"))
    return list(corpus.split("train").tweets), list(corpus.split("valid").tweets)


def tiny(**options: Any) -> TinyTagger:
    return TinyTagger(TinyConfig(**options))


# -- (a) the best epoch's weights are the ones kept -----------------------------------------


def fit_with_curve(
    sample, curve: list[float], **options: Any
) -> tuple[TinyTagger, list[dict[str, torch.Tensor]]]:
    """Fit with ``_validation_scores`` giving ``curve`` (one F1 per epoch); returns the
    system and a snapshot of the weights after each epoch."""
    train, valid = sample
    system = tiny(epochs=len(curve), **options)
    scores = iter(curve)
    system._validation_scores = lambda examples, tweets: {"valid_7b_strict_f1": next(scores)}
    snapshots: list[dict[str, torch.Tensor]] = []
    system.epoch_callback = lambda record: snapshots.append(weights(system))
    system.fit(train[:12], valid[:4])
    assert len(snapshots) == len(curve)
    assert not same_weights(snapshots[0], snapshots[-1])  # training moved the weights
    return system, snapshots


def test_falling_f1_keeps_the_weights_of_epoch_1(sample):
    system, snapshots = fit_with_curve(sample, [0.9, 0.5, 0.1])
    assert same_weights(weights(system), snapshots[0])
    assert [r["valid_7b_strict_f1"] for r in system.history] == [0.9, 0.5, 0.1]


def test_best_epoch_in_the_middle_is_kept_and_ties_keep_the_first(sample):
    system, snapshots = fit_with_curve(sample, [0.2, 0.6, 0.6, 0.4])
    assert same_weights(weights(system), snapshots[1])


def test_rising_f1_keeps_the_last_epoch(sample):
    system, snapshots = fit_with_curve(sample, [0.1, 0.5, 0.9])
    assert same_weights(weights(system), snapshots[-1])


def test_without_select_best_the_last_epoch_is_kept(sample):
    system, snapshots = fit_with_curve(sample, [0.9, 0.5, 0.1], select_best=False)
    assert same_weights(weights(system), snapshots[-1])


def test_history_records_each_epoch(sample):
    train, valid = sample
    system = tiny(epochs=2)
    records: list[dict[str, Any]] = []
    system.epoch_callback = records.append
    system.fit(train[:8], valid[:4])
    assert records == system.history
    assert [r["epoch"] for r in records] == [1, 2]
    assert all(r["train_loss"] > 0 and 0 <= r["valid_7b_strict_f1"] <= 1 for r in records)
    assert all("valid_7a_f1" in r for r in records)


# -- (b) the learning rate each optimiser step uses -------------------------------------


def test_warmup_then_linear_decay_seen_at_each_optimizer_step(sample):
    train, _ = sample
    system = tiny(lr=0.1, warmup_steps=3, batch_size=4, epochs=3)
    system.fit(train[:10])  # 3 batches a epoch, 9 steps
    seen = [step["lr"] for step in system.steps]
    factors = [0, 1 / 3, 2 / 3, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6]
    assert seen == pytest.approx([0.1 * f for f in factors])
    assert seen[:4] == sorted(seen[:4]) and seen[3:] == sorted(seen[3:], reverse=True)
    # the recorded lr is the one after each epoch's last step, 0 after the last
    assert [r["lr"] for r in system.history] == pytest.approx([0.1, 0.05, 0.0])


def test_schedule_functions():
    parameter = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=2.0)
    scheduler = linear_warmup_decay(optimizer, warmup_steps=2, total_steps=6)
    lrs = []
    for _ in range(7):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs == pytest.approx([0.0, 1.0, 2.0, 1.5, 1.0, 0.5, 0.0])
    optimizer = torch.optim.SGD([parameter], lr=2.0)
    scheduler = constant_schedule(optimizer)
    for _ in range(3):
        optimizer.step()
        scheduler.step()
    assert scheduler.get_last_lr() == [2.0]
    assert optimizer_steps(5, 2, 3) == 9 and optimizer_steps(4, 2, 1) == 2
    assert optimizer_steps(5, 1, 2) == 10 and optimizer_steps(5, 0, 1) == 5


# -- (c) gradient accumulation -----------------------------------------------------------


def test_grad_accumulation_applies_the_last_partial_group(sample):
    train, _ = sample
    # lr 0: the weights never move, so both fits see the same model and batch order
    single = tiny(lr=0.0, batch_size=2, epochs=1, grad_accum=1)
    single.fit(train[:10])
    assert len(single.steps) == 5
    accumulated = tiny(lr=0.0, batch_size=2, epochs=1, grad_accum=2)
    accumulated.fit(train[:10])
    assert accumulated.batches == single.batches
    assert len(accumulated.steps) == 3  # 5 batches, 2 a step: the fifth makes a step
    g = [step["grads"] for step in single.steps]
    expected = [
        {k: (g[0][k] + g[1][k]) / 2 for k in g[0]},
        {k: (g[2][k] + g[3][k]) / 2 for k in g[2]},
        {k: g[4][k] / 2 for k in g[4]},  # each loss is divided by grad_accum
    ]
    for step, want in zip(accumulated.steps, expected, strict=True):
        assert step["grads"].keys() == want.keys()
        for name, grad in step["grads"].items():
            torch.testing.assert_close(grad, want[name])
    # nothing is left unapplied
    assert all(p.grad is None for p in accumulated._model().parameters())


def test_grad_accumulation_steps_per_epoch_and_schedule_end(sample):
    train, _ = sample
    system = tiny(lr=0.1, batch_size=2, epochs=2, grad_accum=2, warmup_steps=1)
    system.fit(train[:10])
    assert len(system.batches) == 10 and len(system.steps) == 6
    ids = sorted(t.id for t in train[:10])
    for epoch in (system.batches[:5], system.batches[5:]):  # every example once an epoch
        assert sorted(i for batch in epoch for i in batch) == ids
    assert system.history[-1]["lr"] == 0.0  # the schedule ends exactly with the steps
    assert all(p.grad is None for p in system._model().parameters())


# -- (d) gradient clipping ---------------------------------------------------------------


def test_clipping_bounds_the_norm_of_every_step(sample):
    train, _ = sample
    unclipped = tiny(loss_scale=1000.0, max_grad_norm=0.0, epochs=1)
    unclipped.fit(train[:12])
    assert min(step["norm"] for step in unclipped.steps) > 10.0
    clipped = tiny(loss_scale=1000.0, max_grad_norm=0.5, epochs=1)
    clipped.fit(train[:12])
    assert len(clipped.steps) == 3
    assert all(step["norm"] <= 0.5 * (1 + 1e-5) for step in clipped.steps)
    assert all(step["norm"] > 0.49 for step in clipped.steps)  # scaled to the bound


def test_precision_on_the_cpu_is_bf16_only_where_asked_and_native(monkeypatch):
    from systems.neural import training

    layer = nn.Linear(4, 4)
    for native in (False, True):
        monkeypatch.setattr(training, "cpu_supports_bf16", lambda native=native: native)
        for asked in (False, True):
            precision = Precision(torch.device("cpu"), enabled=True, cpu_bf16=asked)
            on = native and asked
            assert precision.enabled is on and not precision.scaler.is_enabled()
            assert precision.dtype == (torch.bfloat16 if on else torch.float32)
            with precision.autocast():
                assert layer(torch.ones(1, 4)).dtype == precision.dtype
        off = Precision(torch.device("cpu"), enabled=False, cpu_bf16=True)
        assert not off.enabled and off.dtype == torch.float32
    assert not RnnSystem.cpu_bf16  # the RNNs' small recurrent steps stay fp32
    from systems.neural.encoder_system import EncoderSystem

    assert EncoderSystem.cpu_bf16


def test_a_non_finite_loss_stops_with_one_line(sample):
    train, _ = sample
    system = tiny(loss_scale=float("inf"), epochs=1)
    with pytest.raises(HarnessError, match=r"^tiny: training loss became inf in epoch 1/1"):
        system.fit(train[:4])


# -- (f) seeding -------------------------------------------------------------------------


def test_one_seed_repeats_a_fit_and_another_seed_does_not(sample):
    train, valid = sample
    first, second, other = tiny(seed=5), tiny(seed=5), tiny(seed=6)
    for system in (first, second, other):
        system.fit(train[:12], valid[:4])
    assert same_weights(weights(first), weights(second))
    assert first.batches == second.batches
    assert first.predict(valid) == second.predict(valid)
    assert [p.tweet_id for p in first.predict(valid)] == [t.id for t in valid]
    assert not same_weights(weights(first), weights(other))
    assert first.batches != other.batches  # the order of the examples follows the seed


def test_rnn_fit_is_repeatable_with_one_seed(sample):
    train, valid = sample

    def fit(seed: int) -> RnnSystem:
        system = RnnSystem(RnnConfig(**SMALL_RNN, epochs=2, seed=seed, device="cpu"))
        return system.fit(train, valid)

    first, second, other = fit(3), fit(3), fit(4)
    assert same_weights(weights(first), weights(second))
    assert first.predict(valid) == second.predict(valid)
    timing = {"seconds", "seconds_per_step"}
    untimed = [{k: v for k, v in r.items() if k not in timing} for r in first.history]
    assert untimed == [{k: v for k, v in r.items() if k not in timing} for r in second.history]
    assert not same_weights(weights(first), weights(other))


# -- (e) the check of a system's predictions ---------------------------------------------

TYPES = ("PROFESION", "SITUACION_LABORAL")
TWEETS = [Tweet("1", "el médico"), Tweet("2", "en paro hoy")]


def raw_span(begin: int, end: int, type_: str) -> Span:
    """A span that skips ``Span``'s own offset check (as a buggy system might build)."""
    span = object.__new__(Span)
    for name, value in (("begin", begin), ("end", end), ("type", type_)):
        object.__setattr__(span, name, value)
    return span


def good_predictions() -> list[Prediction]:
    return [
        Prediction("1", 1, (Span(3, 9, "PROFESION"),)),
        Prediction("2", 1, (Span(3, 7, "SITUACION_LABORAL"), Span(0, 11, "SITUACION_LABORAL"))),
    ]


def test_check_predictions_accepts_spans_inside_the_text():
    check_predictions(good_predictions(), TWEETS, "sys", TYPES)
    check_predictions([Prediction("1", 0), Prediction("2", 0)], TWEETS, "sys", TYPES)
    check_predictions([], [], "sys", TYPES)


@pytest.mark.parametrize(
    ("span", "reason"),
    [
        (Span(3, 12, "SITUACION_LABORAL"), r"span 3-12 'SITUACION_LABORAL' is not inside"),
        (raw_span(-1, 2, "PROFESION"), r"span -1-2 'PROFESION' is not inside"),
        (raw_span(4, 4, "PROFESION"), r"span 4-4 'PROFESION' is not inside"),
        (
            Span(0, 2, "ACTIVIDAD"),
            r"span 0-2 'ACTIVIDAD' has a type the system does not predict "
            r"\(PROFESION, SITUACION_LABORAL\)$",
        ),
    ],
)
def test_check_predictions_refuses_a_bad_span_naming_system_tweet_and_span(span, reason):
    predictions = good_predictions()
    predictions[1] = Prediction("2", 1, (span,))
    with pytest.raises(HarnessError, match=rf"^system 'sys': tweet 2: {reason}") as caught:
        check_predictions(predictions, TWEETS, "sys", TYPES)
    assert "\n" not in str(caught.value)


def test_span_ending_at_the_text_end_is_inside_and_one_past_is_not():
    check_predictions(
        [Prediction("1", 1, (Span(0, 9, "PROFESION"),)), Prediction("2", 0)], TWEETS, "s", TYPES
    )
    with pytest.raises(HarnessError, match="span 0-10 'PROFESION' is not inside the text"):
        check_predictions(
            [Prediction("1", 1, (Span(0, 10, "PROFESION"),)), Prediction("2", 0)],
            TWEETS,
            "s",
            TYPES,
        )
    check_predictions(
        [Prediction("1", 1, (raw_span(0, 1, "PROFESION"),)), Prediction("2", 0)], TWEETS, "s", TYPES
    )


@pytest.mark.parametrize(
    ("predictions", "message"),
    [
        ([Prediction("1", 0)], r"^system 'sys' returned 1 predictions for 2 tweets$"),
        (
            [Prediction("1", 0), Prediction("2", 0), Prediction("2", 0)],
            r"^system 'sys' returned 3 predictions for 2 tweets$",
        ),
        (
            [Prediction("2", 0), Prediction("1", 0)],
            r"^system 'sys': prediction 0 is for tweet '2', expected tweet '1'",
        ),
        (
            [Prediction("1", 0), Prediction("1", 0)],
            r"^system 'sys': prediction 1 is for tweet '1', expected tweet '2'",
        ),
    ],
)
def test_check_predictions_wants_one_prediction_per_tweet_in_order(predictions, message):
    with pytest.raises(HarnessError, match=message):
        check_predictions(predictions, TWEETS, "sys", TYPES)


def spoil_lookup(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    """Make the lookup system's second prediction of every split carry a bad span."""
    real = LookupSystem.predict

    def predict(self: LookupSystem, tweets: Sequence[Tweet]) -> list[Prediction]:
        predictions = real(self, tweets)
        tweet = tweets[1]
        span = (
            Span(0, len(tweet.text) + 3, "PROFESION")
            if bad == "outside"
            else Span(0, 1, "ACTIVIDAD")
        )
        predictions[1] = Prediction(tweet.id, 1, (span,))
        return predictions

    monkeypatch.setattr(LookupSystem, "predict", predict)


def error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize("bad", ["outside", "type"])
def test_run_with_a_bad_span_stops_with_one_line_and_leaves_no_folder(tmp_path, monkeypatch, bad):
    spoil_lookup(monkeypatch, bad)
    result = CliRunner().invoke(
        main, ["run", "--system", "lookup", "--out", str(tmp_path / "run"), "--no-progress"]
    )
    line = error_line(result)
    assert line.startswith("harness: error: system 'lookup': tweet ")
    assert ": span 0-" in line
    assert list(tmp_path.iterdir()) == []  # neither the run folder nor its temporary


def test_predict_with_a_bad_span_stops_with_one_line_and_writes_nothing(tmp_path, monkeypatch):
    run = CliRunner().invoke(
        main, ["run", "--system", "lookup", "--out", str(tmp_path / "run"), "--no-progress"]
    )
    assert run.exit_code == 0, run.output
    spoil_lookup(monkeypatch, "type")
    out = tmp_path / "predictions"
    result = CliRunner().invoke(
        main,
        [
            "predict",
            str(tmp_path / "run" / "model"),
            "--split",
            "valid",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    line = error_line(result)
    assert line.startswith("harness: error: system 'lookup': tweet ")
    assert "span 0-1 'ACTIVIDAD' has a type the system does not predict" in line
    assert not out.exists()


# -- what the loop records, the order of the examples, untrained systems -------------------


def test_a_new_system_is_untrained():
    system = tiny()
    assert system.model is None and system.architecture == {} and system.history == []
    assert system.device == torch.device("cpu")
    with pytest.raises(HarnessError, match=r"^tiny: the system is not trained or loaded$"):
        system.predict([Tweet("1", "hola")])


def test_history_scores_the_valid_split_and_averages_the_batch_losses(sample):
    train, _ = sample
    tweets = train[:12]
    system = tiny(epochs=10, lr=0.3, select_best=False, batch_size=4)
    system.fit(tweets, tweets)  # valid = train: the tiny model learns most of it
    last = system.history[-1]
    report = score_predictions(system.predict(tweets), Split("valid", tweets, True)).as_dict()
    assert last["valid_7b_strict_f1"] == report["7b"]["strict"]["f1"] > 0.5
    assert last["valid_7a_f1"] == report["7a"]["f1"] > 0.5
    losses = system._model().losses
    assert len(losses) == 30  # 3 batches a epoch
    for epoch, record in enumerate(system.history):
        assert record["train_loss"] == round(sum(losses[3 * epoch : 3 * epoch + 3]) / 3, 6)
        assert isinstance(record["seconds"], float)
        # the epoch's seconds (rounded to 0.01) hold its 3 steps and the scoring
        assert 0 < 3 * record["seconds_per_step"] <= record["seconds"] + 0.005
    single = tiny(epochs=1, batch_size=8)
    single.fit(train[:3])  # one batch
    assert single.history[0]["train_loss"] == round(single._model().losses[0], 6)


def test_the_order_of_the_examples_has_a_generator_of_its_own(sample):
    train, _ = sample
    small, wide = tiny(seed=5, dim=4, epochs=2), tiny(seed=5, dim=16, epochs=2)
    small.fit(train[:12])
    wide.fit(train[:12])
    # the model's size changes what initialisation draws, not the order of the examples
    assert small.batches == wide.batches
    generator = torch.Generator().manual_seed(5)
    ids = [t.id for t in train[:12]]
    expected = []
    for _ in range(2):
        order = torch.randperm(12, generator=generator).tolist()
        expected += [[ids[i] for i in order[j : j + 4]] for j in range(0, 12, 4)]
    assert small.batches == expected


class TinyClassifier(TinyTagger):
    """The tiny tagger with a 7a classifier of its own."""

    labels_from_spans = False


@pytest.mark.parametrize(("cls", "label"), [(TinyTagger, 0), (TinyClassifier, 1)])
def test_labels_come_from_the_spans_or_from_the_classifier(sample, cls, label):
    train, valid = sample
    system = cls(TinyConfig(epochs=1))
    system.fit(train[:4])
    model = system._model()
    with torch.no_grad():  # tag O everywhere, classify every tweet positive
        model.tagger.weight.zero_()
        model.tagger.bias.copy_(torch.tensor([10.0] + [0.0] * (len(system.codec) - 1)))
        model.classifier.weight.zero_()
        model.classifier.bias.copy_(torch.tensor([0.0, 10.0]))
    predictions = system.predict(valid)
    assert [p.tweet_id for p in predictions] == [t.id for t in valid]
    assert all(p.spans == () and p.label == label for p in predictions)


def test_progress_bars_only_when_asked(sample, capsys):
    train, valid = sample
    quiet = tiny(epochs=1)
    quiet.fit(train[:4])
    quiet.predict(valid[:2])
    assert "tiny:" not in capsys.readouterr().err
    loud = tiny(epochs=1)
    loud.show_progress = True
    loud.fit(train[:4])
    loud.predict(valid[:2])
    err = capsys.readouterr().err
    assert "tiny: epoch 1/1" in err and "tiny: predicting" in err


def test_pick_device(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto") == torch.device("cpu")
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(HarnessError, match=r"^unknown device 'tpu' \(use auto, cpu or cuda\)$"):
        pick_device("tpu")
    with pytest.raises(
        HarnessError, match=r"^device 'cuda:1' requested but CUDA is not available here$"
    ):
        pick_device("cuda:1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("cuda")
    assert pick_device("cuda:1") == torch.device("cuda:1")


class Groups(nn.Module):
    def __init__(self):
        super().__init__()
        self.frozen = nn.Linear(2, 2).requires_grad_(False)  # before dense: skipped, not the end
        self.dense = nn.Linear(3, 4)
        self.layer_norm = nn.LayerNorm(4)
        # a module's own parameters come first in named_parameters()
        self.norm_proj = nn.Parameter(torch.zeros(2, 2))  # 2-D, but a normalisation weight


def test_parameter_groups_exempt_biases_and_norms_from_weight_decay():
    model = Groups()
    decay, no_decay = parameter_groups(model, 0.25)
    assert decay["weight_decay"] == 0.25 and no_decay["weight_decay"] == 0.0
    assert [id(p) for p in decay["params"]] == [id(model.dense.weight)]
    assert [id(p) for p in no_decay["params"]] == [
        id(p)
        for p in (model.norm_proj, model.dense.bias, model.layer_norm.weight, model.layer_norm.bias)
    ]


# -- the runner -------------------------------------------------------------------------


def test_the_seed_is_the_runs_and_never_a_silent_option(tmp_path):
    result = CliRunner().invoke(
        main, ["run", "--system", "lookup", "-o", "seed=2", "--out", str(tmp_path / "run")]
    )
    assert result.exit_code != 0
    assert "the seed is the run's own: give --seed 2, not -o seed=2" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "run").exists()
    corpus = load_corpus(resolve("sample"))
    system = build_system(RunSettings(system="lookup", seed=2), corpus)
    assert system.config.seed == 2


def test_read_config_file_forms_and_errors(tmp_path):
    def write(name: str, value: Any) -> Path:
        path = tmp_path / name
        path.write_text(value if isinstance(value, str) else json.dumps(value), encoding="utf-8")
        return path

    settings = {"system": "lookup", "seed": 7, "train_on": "train+valid", "data": "x"}
    run_config = write("config.json", {"settings": {**settings, "options": {"a": 1}}})
    assert read_config_file(run_config) == {
        "system": "lookup",
        "seed": 7,
        "train_on": "train+valid",
        "options": {"a": 1},
    }
    assert read_config_file(write("best.json", {"system": "rnn", "options": {"lr": 0.1}})) == {
        "system": "rnn",
        "options": {"lr": 0.1},
    }
    assert read_config_file(write("old.json", {"system": "rnn", "config": {"lr": 0.1}})) == {
        "system": "rnn",
        "options": {"lr": 0.1},
    }
    assert read_config_file(write("bare.json", {"system": "rnn"})) == {
        "system": "rnn",
        "options": {},
    }
    # a system config's seed is the run's seed (the settings' own wins where both are)
    tuned = write("tuned.json", {"system": "rnn", "config": {"lr": 0.1, "seed": 5}})
    assert read_config_file(tuned) == {"system": "rnn", "seed": 5, "options": {"lr": 0.1}}
    both = write("both.json", {"settings": {**settings, "options": {"seed": 5}}})
    assert read_config_file(both)["seed"] == 7 and read_config_file(both)["options"] == {}
    missing = tmp_path / "none.json"
    for path, message in [
        (missing, "no such config file"),
        (write("bad.json", "{"), "not valid JSON (Expecting"),
        (write("list.json", [1]), "expected a JSON object"),
        (write("opts.json", {"options": [1]}), "'options' must be an object"),
    ]:
        with pytest.raises(HarnessError, match=f"^{re.escape(f'{path}: {message}')}"):
            read_config_file(path)


def test_build_system_names_the_system_in_option_errors():
    corpus = load_corpus(resolve("sample"))
    with pytest.raises(HarnessError, match=r"^system 'lookup': unknown option\(s\) bogus"):
        build_system(RunSettings("lookup", options={"bogus": 1}), corpus)


def test_training_tweets_per_train_on():
    corpus = load_corpus(resolve("sample"))
    train_ids = [t.id for t in corpus.split("train").tweets]
    valid_ids = [t.id for t in corpus.split("valid").tweets]
    train, valid = _training_tweets(corpus, "train")
    assert [t.id for t in train] == train_ids and [t.id for t in valid] == valid_ids
    both, none = _training_tweets(corpus, "train+valid")
    assert [t.id for t in both] == train_ids + valid_ids and none is None
    with pytest.raises(
        HarnessError, match=r"^--train-on must be one of train, train\+valid, got 'valid'$"
    ):
        _training_tweets(corpus, "valid")
    no_valid = Corpus("src", {"train": corpus.split("train")}, corpus.types)
    train, valid = _training_tweets(no_valid, "train")
    assert len(train) == len(train_ids) and valid is None
    with pytest.raises(HarnessError, match=r"^src: --train-on train\+valid needs a valid split$"):
        _training_tweets(no_valid, "train+valid")


def test_run_folder_handling(tmp_path, monkeypatch):
    seen: dict[str, Any] = {}

    def fake_run_into(work: Path, settings: RunSettings, progress: bool, notify) -> None:
        seen.update(work=work, progress=progress)
        (work / "metrics.json").write_text("{}")

    monkeypatch.setattr(runner, "_run_into", fake_run_into)
    out = tmp_path / "a" / "b" / "run"
    assert runner.run(RunSettings("lookup"), out) == out
    assert seen["progress"] is True
    assert seen["work"].parent == out.parent
    assert seen["work"].name.startswith(".run.harness-partial-")
    assert sorted(p.name for p in out.iterdir()) == [".harness-output", "metrics.json", "run.log"]
    with pytest.raises(HarnessError, match="exists and is not empty"):
        runner.run(RunSettings("lookup"), out)
    (out / "old.txt").write_text("x")
    runner.run(RunSettings("lookup"), out, force=True, progress=False)
    assert not (out / "old.txt").exists() and seen["progress"] is False
    assert [p.name for p in out.parent.iterdir()] == ["run"]
    monkeypatch.chdir(tmp_path)
    made = runner.run(RunSettings("lookup"))
    assert re.fullmatch(r"runs/lookup-\d{8}-\d{6}", made.as_posix()), made


def test_run_records_what_it_did(tmp_path, monkeypatch):
    fits: list[tuple[int, int | None]] = []
    systems: list[System] = []
    real_fit, real_build = LookupSystem.fit, runner.build_system

    def fit(self, train, valid=None):
        fits.append((len(train), None if valid is None else len(valid)))
        return real_fit(self, train, valid)

    def build(settings, corpus):
        systems.append(real_build(settings, corpus))
        return systems[-1]

    monkeypatch.setattr(LookupSystem, "fit", fit)
    monkeypatch.setattr(runner, "build_system", build)
    data = tmp_path / "córpus"
    shutil.copytree(resolve("sample"), data)
    out = runner.run(RunSettings("lookup", data=str(data)), tmp_path / "run", progress=True)
    assert fits == [(42, 16)] and systems[-1].show_progress is True
    text = (out / "config.json").read_text(encoding="utf-8")
    assert text.startswith('{\n  "settings": {\n    "system": "lookup",\n    "data": "')
    assert "córpus" in text  # not escaped
    config = json.loads(text)
    assert config["corpus"].endswith("córpus") and config["harness_version"] == __version__
    assert config["python"] == platform.python_version()
    assert config["platform"] == platform.platform()
    text = (out / "metrics.json").read_text(encoding="utf-8")
    assert text.startswith('{\n  "system": "lookup",\n  "parameters": ')
    metrics = json.loads(text)
    assert metrics["parameters"] == systems[-1].parameter_count() > 0
    assert metrics["train_on"] == "train" and "note" not in metrics["scores"]["valid"]
    timings = metrics["timings"]
    assert set(timings) == {"fit_seconds", "predict_valid_seconds", "predict_test_seconds"}
    assert all(isinstance(value, float) for value in timings.values())
    assert "epochs" not in metrics  # lookup trains in no epochs
    first_line = (out / "run.log").read_text(encoding="utf-8").splitlines()[0]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO corpus ", first_line)

    final = runner.run(
        RunSettings("lookup", train_on="train+valid", all_types=True), tmp_path / "final"
    )
    assert fits[-1] == (58, None)
    assert {"ACTIVIDAD", "FIGURATIVA"} <= set(systems[-1].config.types)
    metrics = json.loads((final / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["train_on"] == "train+valid"
    assert metrics["scores"]["valid"]["note"] == (
        "valid was part of the training data: not a held-out score"
    )


def test_a_neural_run_records_its_epochs_with_seconds_per_step(tmp_path):
    options = {k: str(v) for k, v in SMALL_RNN.items()} | {"epochs": "2"}
    out = runner.run(RunSettings("rnn", options=options), tmp_path / "run", progress=False)
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert all(e["seconds_per_step"] > 0 and "valid_7b_strict_f1" in e for e in metrics["epochs"])
    log = (out / "run.log").read_text(encoding="utf-8")
    assert log.count('"seconds_per_step"') == 2


def test_score_written_scores_the_named_split(tmp_path):
    corpus = load_corpus(resolve("sample"))
    tweets = corpus.split("train").tweets
    perfect = [Prediction.from_spans(t.id, t.spans or (), t.label) for t in tweets]
    runner.write_predictions(tmp_path, perfect, tweets)
    report = runner.score_written(tmp_path, resolve("sample"), "train")
    assert report["7b"]["strict"]["f1"] == pytest.approx(1.0)
    assert report["7a"]["f1"] == pytest.approx(1.0)


def test_summary_line():
    report = {"7a": {"f1": 0.5}, "7b": {"strict": {"f1": 0.25}, "relaxed": {"f1": 0.75}}}
    assert summary_line(report) == "7a F1 0.5000, 7b strict F1 0.2500, relaxed F1 0.7500"
    assert summary_line({"7a": {"f1": 0.5}}) == "7a F1 0.5000"
    assert summary_line({"7b": report["7b"]}) == "7b strict F1 0.2500, relaxed F1 0.7500"


# -- tag decoding (core/tagging.py) ------------------------------------------------------


def words(n: int) -> list[Token]:
    """``n`` two-letter tokens, one space apart: offsets 0-2, 3-5, 6-8, ..."""
    return [Token(f"w{i}", 3 * i, 3 * i + 2) for i in range(n)]


@pytest.mark.parametrize(
    ("tags", "scheme", "spans"),
    [
        (["B-P", "B-P"], "BIO", [(0, 2), (3, 5)]),
        (["B-P", "U-P"], "BILOU", [(0, 2), (3, 5)]),
        (["U-P", "I-P"], "BILOU", [(0, 2), (3, 5)]),
        (["L-P", "I-P"], "BILOU", [(0, 2), (3, 5)]),
        (["L-P", "I-P"], "BIO", [(0, 5)]),
        (["B-P", "L-P", "I-P"], "BILOU", [(0, 5), (6, 8)]),
        (["B-P", "I-P", "I-P"], "BIO", [(0, 8)]),
    ],
)
def test_which_tags_start_and_end_an_entity(tags, scheme, spans):
    assert tags_to_spans(words(len(tags)), tags, scheme) == [Span(b, e, "P") for b, e in spans]


def test_types_may_contain_hyphens():
    assert tags_to_spans(words(2), ["B-A-B", "I-A-B"]) == [Span(0, 5, "A-B")]


@pytest.mark.parametrize("tag", ["X-P", "BI-P", "B-", "-P", "P"])
def test_malformed_tags_are_refused(tag):
    with pytest.raises(HarnessError, match=f"^malformed tag {re.escape(repr(tag))}$"):
        split_tag(tag)


def test_tags_must_match_the_tokens():
    with pytest.raises(HarnessError, match=r"^3 tags for 2 tokens$"):
        tags_to_spans(words(2), ["O", "O", "O"])


def test_is_aligned():
    tokens = words(2)
    assert is_aligned(Span(0, 5, "P"), tokens) and is_aligned(Span(3, 5, "P"), tokens)
    assert not is_aligned(Span(1, 5, "P"), tokens)
    assert not is_aligned(Span(0, 4, "P"), tokens)
