"""The lookup baseline, the system contract (typed configs, save/load) and the registry."""

from __future__ import annotations

import pytest

from core.corpus import load_corpus
from core.datasets import SAMPLE_CORPUS
from core.errors import HarnessError
from core.system import config_from_dict, parse_options
from core.tweets import Span, Tweet
from harness import registry
from systems.lookup import LookupConfig, LookupSystem


def tweet(text: str, spans=(), tweet_id="1") -> Tweet:
    return Tweet(tweet_id, text, 1 if spans else 0, tuple(spans))


def test_longest_match_on_token_boundaries_case_folded():
    train = [
        tweet("el presidente del Gobierno habló", [Span(3, 26, "PROFESION")]),
        tweet("el presidente dimite", [Span(3, 13, "PROFESION")]),
        tweet("estoy en paro", [Span(6, 13, "SITUACION_LABORAL")]),
    ]
    system = LookupSystem().fit(train)
    [prediction] = system.predict([tweet("El PRESIDENTE del gobierno, en paro; vicepresidente")])
    assert prediction.spans == (
        Span(3, 26, "PROFESION"),
        Span(28, 35, "SITUACION_LABORAL"),
    )  # "vicepresidente" is not matched inside a token
    assert prediction.label == 1
    assert system.predict([tweet("nada que ver")])[0].label == 0


def test_case_sensitive_option():
    train = [tweet("el Rey habla", [Span(3, 6, "PROFESION")])]
    system = LookupSystem(LookupConfig(case_sensitive=True)).fit(train)
    assert system.predict([tweet("el rey")])[0].spans == ()
    assert system.predict([tweet("el Rey")])[0].spans == (Span(3, 6, "PROFESION"),)


def test_min_precision_drops_mostly_unannotated_entries():
    train = [tweet("el portero para", [Span(3, 10, "PROFESION")])] + [
        tweet(f"el portero de casa {i}", tweet_id=str(i + 2)) for i in range(3)
    ]
    assert LookupSystem().fit(train).entries
    assert not LookupSystem(LookupConfig(min_precision=0.5)).fit(train).entries


def test_save_load_gives_identical_predictions(tmp_path):
    corpus = load_corpus(SAMPLE_CORPUS)
    system = LookupSystem(LookupConfig(min_precision=0.2)).fit(corpus.split("train").tweets)
    system.save(tmp_path / "model")
    loaded = registry.load_saved(tmp_path / "model")
    assert isinstance(loaded, LookupSystem)
    assert loaded.config == system.config
    valid = corpus.split("valid").tweets
    assert loaded.predict(valid) == system.predict(valid)
    assert loaded.parameter_count() == system.parameter_count() > 0


def test_load_errors_are_clear(tmp_path):
    with pytest.raises(HarnessError, match="not a saved model folder"):
        registry.load_saved(tmp_path)
    LookupSystem().fit([tweet("el médico", [Span(3, 9, "PROFESION")])]).save(tmp_path)
    (tmp_path / "dictionary.json").write_text("{broken", encoding="utf-8")
    with pytest.raises(HarnessError, match="malformed dictionary"):
        registry.load_saved(tmp_path)


def test_typed_options_from_cli_strings():
    config = config_from_dict(
        LookupConfig, parse_options(["min-precision=0.5", "case_sensitive=yes", "types=A,B"])
    )
    assert config.min_precision == 0.5 and config.case_sensitive is True
    assert config.types == ("A", "B")
    with pytest.raises(HarnessError, match="unknown option"):
        config_from_dict(LookupConfig, {"learning_rate": "1"})
    with pytest.raises(HarnessError, match="expected float"):
        config_from_dict(LookupConfig, {"min_precision": "lots"})
    with pytest.raises(HarnessError, match="expected KEY=VALUE"):
        parse_options(["min_precision"])


def test_registry_lists_and_rejects_unknown(monkeypatch):
    assert "lookup" in registry.available()
    assert registry.get("lookup") is LookupSystem
    with pytest.raises(HarnessError, match="unknown system 'nope'"):
        registry.get("nope")


def test_registry_finds_entry_point_systems(monkeypatch):
    class FakeEntryPoint:
        name = "plugin-lookup"
        value = "systems.lookup:LookupSystem"

    monkeypatch.setattr(registry, "entry_points", lambda group: [FakeEntryPoint()])
    assert "plugin-lookup" in registry.available()
    assert registry.get("plugin-lookup") is LookupSystem
