"""Stacked embeddings (``rnn -o contextual=ENCODER``): frozen contextual word features
computed once per tweet and reused, saved with the model, and part of its size."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from click.testing import CliRunner

from core.corpus import load_corpus
from core.datasets import SAMPLE_CORPUS
from harness import registry
from harness.cli import main
from systems.neural.contextual_words import FOLDER, ContextualWords
from systems.rnn import RnnConfig, RnnSystem
from tests.helpers import SMALL_RNN
from tests.tiny_bert import save_tiny_bert


@pytest.fixture(scope="module")
def sample():
    corpus = load_corpus(SAMPLE_CORPUS)
    return corpus.split("train").tweets, corpus.split("valid").tweets


@pytest.fixture(scope="module")
def encoder(tmp_path_factory, sample):
    train, _ = sample
    # built from the first half of train only, so later tweets hold unknown pieces
    texts = [t.text for t in train[: len(train) // 2]]
    return save_tiny_bert(tmp_path_factory.mktemp("encoder") / "bert", texts)


@pytest.fixture(scope="module")
def fitted(sample, encoder):
    train, valid = sample
    system = RnnSystem(RnnConfig(**SMALL_RNN, epochs=3, contextual=str(encoder), device="cpu"))
    system.fit(train, valid)
    return system


def words_of(tweets):
    return [tuple(t.text.split()) for t in tweets]


def test_a_fit_reads_each_tweet_once_and_keeps_nothing_after(fitted, sample):
    train, valid = sample
    assert fitted.config.epochs == 3 and len(fitted.history) == 3
    # three epochs and three valid scorings, one encoder pass per distinct tweet
    distinct = {tuple(t.text for t in e.tokens) for e in fitted_examples(fitted, train + valid)}
    assert fitted.contextual.encoded == len(distinct)
    assert fitted.contextual.cache == {} and not fitted.contextual.keep


def fitted_examples(system, tweets):
    from systems.neural.examples import make_examples

    return make_examples(tweets, system.codec, with_gold=False)


def test_features_are_the_frozen_encoders_first_piece_states(fitted):
    words = ContextualWords(
        fitted.contextual.tokenizer, fitted.contextual.encoder, 128, fitted.contextual.piece_map
    )
    alone = words.batch([["el", "médico"]], 2)
    padded = words.batch([["el", "médico"], ["la", "enfermera", "de", "guardia", "hoy"]], 5)
    assert torch.allclose(alone[0], padded[0, :2], atol=1e-2)  # bf16 where native
    assert torch.count_nonzero(padded[0, 2:]) == 0
    assert words.batch([[]], 1).shape == (1, 1, fitted.contextual.width)  # an empty tweet
    assert words.cache == {}  # outside a fit, nothing is kept
    assert any(p.requires_grad for p in fitted._model().parameters())
    assert not any(p.requires_grad for p in fitted.contextual.encoder.parameters())


def test_the_saved_model_holds_the_cut_encoder_and_predicts_the_same(fitted, sample, tmp_path):
    _, valid = sample
    fitted.save(tmp_path / "model")
    pieces = json.loads((tmp_path / "model" / FOLDER / "pieces.json").read_text())
    assert len(pieces["kept"]) < pieces["vocabulary_size"]
    loaded = registry.load_saved(tmp_path / "model")
    assert loaded.predict(valid) == fitted.predict(valid)
    breakdown = loaded.parameter_breakdown()
    assert breakdown["contextual_encoder"] == sum(
        p.numel() for p in loaded.contextual.encoder.parameters()
    )
    assert loaded.parameter_count() == breakdown["total"] > breakdown["contextual_encoder"]
    shutil.rmtree(tmp_path / "model" / FOLDER)
    with pytest.raises(Exception, match="contextual/ missing"):
        registry.load_saved(tmp_path / "model")


def test_harness_run_trains_the_stacked_tagger(encoder, tmp_path):
    out = tmp_path / "run"
    args = ["run", "--system", "rnn", "--out", str(out), "--no-progress"]
    options = ["-o", f"contextual={encoder}", "-o", "epochs=1", "-o", "word_dim=8"]
    result = CliRunner().invoke(main, [*args, *options, "-o", "encoder_hidden=8"])
    assert result.exit_code == 0, result.output
    architecture = json.loads((out / "model" / "architecture.json").read_text())
    assert architecture["contextual_dim"] == 32  # the tiny encoder's width
    result = CliRunner().invoke(
        main,
        [
            "predict",
            str(out / "model"),
            "--split",
            "valid",
            "--out",
            str(tmp_path / "p"),
            "--precision",
            "int8",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
