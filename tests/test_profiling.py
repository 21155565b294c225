"""``harness bench --profile``: one call's time split into the heavy layers (a
transformer's encoder, an RNN's recurrent layers, whatever engine runs them) and the rest."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from core.corpus import load_corpus
from core.datasets import SAMPLE_CORPUS
from harness.cli import main
from harness.profiling import ENCODER, RECURRENT, heavy_layers, profile_split
from systems.lookup import LookupSystem
from systems.neural.examples import make_examples
from systems.rnn import RnnConfig, RnnSystem
from tests.engine_models import loaded, saved_system
from tests.helpers import SMALL_RNN


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(SAMPLE_CORPUS)


@pytest.fixture(scope="module")
def rnn_model(corpus, tmp_path_factory):
    system = RnnSystem(RnnConfig(**SMALL_RNN))
    system.architecture = system.build(
        make_examples(corpus.split("train").tweets, system.codec, True)
    )
    return system.save(tmp_path_factory.mktemp("rnn") / "model")


@pytest.fixture(scope="module")
def bert_model(corpus, tmp_path_factory):
    return saved_system(tmp_path_factory.mktemp("bert"), corpus)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_recurrent_layers_are_found_whatever_runs_them(rnn_model, precision):
    system = loaded(rnn_model, precision)
    kind, modules = heavy_layers(system.model)
    assert kind == RECURRENT and len(modules) == 3  # characters, words, the 7a pooler


def test_the_onnxruntime_recurrent_layers_are_found_and_timed(rnn_model, corpus):
    pytest.importorskip("onnxruntime", reason="the 'onnx' extra is not installed")
    system = loaded(rnn_model, "fp32", "onnxruntime")
    kind, modules = heavy_layers(system.model)
    assert kind == RECURRENT and len(modules) == 3
    split = profile_split(system, corpus.split("valid").tweets[0], calls=3)
    assert split is not None and split.heavy_ms > 0  # their run(), not forward, is called


def test_the_split_adds_up_to_the_call(bert_model, corpus):
    system = loaded(bert_model)
    kind, modules = heavy_layers(system.model)
    assert kind == ENCODER and modules == [system.model.encoder]
    split = profile_split(system, corpus.split("valid").tweets[0], calls=5)
    assert split is not None and split.heavy == ENCODER
    assert split.heavy_ms > 0 and split.rest_ms > 0
    assert "forward" not in vars(system.model.encoder)  # the wrapper is gone after


def test_a_dictionary_has_no_split(corpus):
    system = LookupSystem().fit(corpus.split("train").tweets)
    assert profile_split(system, corpus.split("valid").tweets[0]) is None


def test_bench_profile_prints_and_records_the_split(rnn_model, tmp_path):
    out = tmp_path / "bench.json"
    args = ["bench", str(rnn_model), "--profile", "--rounds", "2", "--warmup", "0"]
    args += ["--precision", "fp32", "--precision", "int8", "--no-progress", "--json", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "split, median tweet" in result.stdout
    assert result.stdout.count("recurrent layers ") == 2
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    assert all(row["split"]["heavy"] == RECURRENT and row["split"]["calls"] == 2 for row in rows)
    plain = CliRunner().invoke(main, args[:2] + args[3:])
    assert "split" not in plain.stdout
