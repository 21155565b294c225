"""Fixtures of the engine tests: the sample corpus, a tiny saved System 1, and a cache
of exports private to this folder's tests (never the user's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.corpus import load_corpus
from core.datasets import SAMPLE_CORPUS
from tests.engine_models import saved_system


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(SAMPLE_CORPUS)


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("harness-cache")


@pytest.fixture(autouse=True)
def private_cache(cache, monkeypatch) -> None:
    monkeypatch.setenv("HARNESS_CACHE", str(cache))


@pytest.fixture(scope="module")
def bert_model(corpus, tmp_path_factory) -> Path:
    return saved_system(tmp_path_factory.mktemp("bert"), corpus)
