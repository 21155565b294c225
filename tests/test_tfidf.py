"""The TF-IDF + logistic-regression system: its classifier decides 7a and gates the
dictionary's 7b spans, and it saves and loads without pickle."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from core.corpus import load_corpus
from core.datasets import resolve
from core.errors import HarnessError
from core.system import config_from_dict
from core.tweets import Span, Tweet
from eval import score_predictions
from harness import registry
from harness.cli import main
from systems.lookup import LookupSystem
from systems.tfidf import FEATURES_FILE, WEIGHTS_FILE, TfidfConfig, TfidfSystem


@pytest.fixture(scope="module")
def sample():
    corpus = load_corpus(resolve("sample"))
    return corpus.split("train").tweets, corpus.split("valid")


@pytest.fixture(scope="module")
def fitted(sample):
    return TfidfSystem().fit(sample[0])


class Constant:
    """A stand-in classifier that gives every tweet the same probability."""

    def __init__(self, probability: float):
        self.probability = probability

    def predict_proba(self, matrix):
        return np.tile([1 - self.probability, self.probability], (matrix.shape[0], 1))


def test_registered_with_its_own_classifier():
    assert "tfidf" in registry.available()
    assert registry.get("tfidf") is TfidfSystem
    assert not TfidfSystem.labels_from_spans


def test_the_classifier_beats_the_dictionary_on_7a(sample, fitted):
    train, valid = sample
    ours = score_predictions(fitted.predict(valid.tweets), valid)
    lookup = score_predictions(LookupSystem().fit(train).predict(valid.tweets), valid)
    assert ours.task7a.f1 > lookup.task7a.f1
    assert ours.task7b.strict.f1 >= lookup.task7b.strict.f1


def test_labels_are_the_classifiers_and_gate_the_spans(sample, fitted):
    valid = sample[1].tweets
    predictions = fitted.predict(valid)
    probabilities = fitted.probabilities(valid)
    assert [p.label for p in predictions] == [int(p >= 0.5) for p in probabilities]
    found = fitted.lookup.predict(valid)
    assert any(f.spans for f in found)
    for prediction, lookup in zip(predictions, found, strict=True):
        assert prediction.spans == (lookup.spans if prediction.label else ())


def test_breaking_the_classifier_changes_the_output(sample, monkeypatch):
    valid = sample[1].tweets
    system = TfidfSystem().fit(sample[0])
    found = system.lookup.predict(valid)
    monkeypatch.setattr(system, "classifier", Constant(0.1))
    assert all(p.label == 0 and not p.spans for p in system.predict(valid))
    system.config.spans = "all"
    assert [p.spans for p in system.predict(valid)] == [f.spans for f in found]
    assert all(p.label == 0 for p in system.predict(valid))
    monkeypatch.setattr(system, "classifier", Constant(0.9))
    assert all(p.label == 1 for p in system.predict(valid))  # spans or not


def test_dictionary_features_of_training_tweets_are_out_of_fold(sample, fitted):
    train = sample[0]
    in_fold = fitted._hits(fitted.lookup.predict(train))
    out_of_fold = fitted._out_of_fold_hits(train)
    with_mentions = [i for i, t in enumerate(train) if t.spans]
    assert in_fold[with_mentions, -1].all()  # a dictionary finds what it was built from
    assert not out_of_fold[with_mentions, -1].all()
    assert (
        fitted.classifier.coef_.shape[1]
        == sum(len(v.vocabulary_) for _, v in fitted.features.transformer_list)
        + len(fitted.config.types)
        + 1
    )


def test_tfidf_alone_also_learns(sample):
    train, valid = sample
    system = TfidfSystem(TfidfConfig(lookup_features=False, spans="all")).fit(train)
    assert system.hit_types == ()
    assert score_predictions(system.predict(valid.tweets), valid).task7a.f1 > 0.5


def test_save_load_gives_identical_predictions_without_pickle(tmp_path, sample, fitted):
    valid = sample[1].tweets
    fitted.save(tmp_path / "model")
    names = {p.name for p in (tmp_path / "model").iterdir()}
    assert names == {"system.json", "dictionary.json", FEATURES_FILE, WEIGHTS_FILE}
    with np.load(tmp_path / "model" / WEIGHTS_FILE, allow_pickle=False) as weights:
        assert {"coef", "intercept", "idf_word", "idf_char"} == set(weights.files)
    loaded = registry.load_saved(tmp_path / "model")
    assert isinstance(loaded, TfidfSystem) and loaded.config == fitted.config
    assert loaded.predict(valid) == fitted.predict(valid)
    np.testing.assert_array_equal(loaded.probabilities(valid), fitted.probabilities(valid))
    assert loaded.parameter_count() == fitted.parameter_count() > len(fitted.lookup.entries)


def test_broken_model_folders_are_one_line_errors(tmp_path, fitted):
    folder = fitted.save(tmp_path / "model")
    with np.load(folder / WEIGHTS_FILE, allow_pickle=False) as weights:
        arrays = {key: weights[key] for key in weights.files}
    np.savez(folder / WEIGHTS_FILE, **{**arrays, "coef": arrays["coef"][:, :-1]})
    with pytest.raises(HarnessError, match=r"malformed tfidf model .*coefficients of shape"):
        registry.load_saved(folder)
    meta = json.loads((folder / FEATURES_FILE).read_text(encoding="utf-8"))
    meta["ngrams"][0]["vocabulary"].pop()
    (folder / FEATURES_FILE).write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(HarnessError, match=r"malformed tfidf model .*vocabulary size"):
        registry.load_saved(folder)
    (folder / FEATURES_FILE).write_text("{broken", encoding="utf-8")
    with pytest.raises(HarnessError, match="malformed tfidf model"):
        registry.load_saved(folder)
    (folder / WEIGHTS_FILE).unlink()
    with pytest.raises(HarnessError, match=r"tfidf\.npz: missing"):
        registry.load_saved(folder)


def tweet(tweet_id: str, text: str, label: int) -> Tweet:
    spans = (Span(3, 9, "PROFESION"),) if label else ()
    return Tweet(tweet_id, text, label, spans)


@pytest.mark.parametrize(
    ("config", "tweets", "message"),
    [
        ({}, [tweet("1", "el médico", 1), tweet("2", "el médico", 1)], "both 7a labels"),
        ({}, [Tweet("1", "hola")], "need a 7a label"),
        ({"word_ngrams": 0, "char_max": 0}, [], "no n-gram features"),
        ({"char_min": 4, "char_max": 3}, [], "char_max .3. is below char_min .4."),
        (
            {"min_df": 5},
            [tweet("1", "el médico", 1), tweet("2", "un día", 0)],
            "no n-gram features left",
        ),
    ],
)
def test_fit_errors_are_clear(config, tweets, message):
    tweets = tweets or [tweet("1", "el médico", 1), tweet("2", "un día", 0)]
    with pytest.raises(HarnessError, match=message):
        TfidfSystem(TfidfConfig(**config)).fit(tweets)


def test_options_are_checked_when_read():
    config = config_from_dict(TfidfConfig, {"c": "3e-1", "class_weight": "none", "spans": "all"})
    assert config.c == 0.3 and config.class_weight == "none" and config.spans == "all"
    with pytest.raises(HarnessError, match="option 'c': Input should be greater than 0"):
        config_from_dict(TfidfConfig, {"c": "0"}, where="system 'tfidf'")
    with pytest.raises(HarnessError, match="option 'spans': must be one of positive, all"):
        config_from_dict(TfidfConfig, {"spans": "some"})
    with pytest.raises(HarnessError, match="option 'threshold': Input should be less than"):
        config_from_dict(TfidfConfig, {"threshold": "1.5"})


def test_harness_run_with_the_tfidf_system(tmp_path):
    out = tmp_path / "run"
    args = ["run", "--system", "tfidf", "--out", str(out), "--no-progress", "-o", "c=3"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["system"] == "tfidf" and "7a" in metrics["scores"]["valid"]
    assert metrics["parameters"] == registry.load_saved(out / "model").parameter_count()
    bad = CliRunner().invoke(
        main, ["run", "--system", "tfidf", "--out", str(tmp_path / "x"), "-o", "c=-1"]
    )
    assert bad.exit_code == 2 and bad.stderr.count("\n") == 1
    assert bad.stderr.startswith("harness: error: system 'tfidf': option 'c'")
