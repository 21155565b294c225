"""Fixtures of the latency benchmarks: the corpus, the two benchmark tweets and models.

Models are loaded from saved folders on the CPU, through ``registry.load_saved`` -- the
path a user's GPU-trained model takes. Without trained runs the paper's full-size
architectures are built untrained (``harness.reference_models``); trained runs are
benchmarked too when ``HARNESS_BENCH_RUNS`` lists their folders (``os.pathsep``-separated).

Targets on a 2-core CPU (the issue's; recorded in each benchmark's ``extra_info`` and
enforced only with ``HARNESS_BENCH_ENFORCE=1``, since shared machines are noisy).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.corpus import Corpus, load_corpus
from core.datasets import SAMPLE_CORPUS
from core.system import System
from core.tweets import Tweet
from harness import registry
from harness.latency import benchmark_tweets

SHARED_ZIP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "profner.zip"
#: milliseconds per single prediction (median tweet) with the fast path
TARGET_MS = {"transformer": 20.0, "rnn": 3.7}
#: tweets per second, transformer, batched over train + valid
TARGET_THROUGHPUT = 60.0
#: bytes of peak resident memory of a transformer predictor
TARGET_PEAK_BYTES = 1 << 30


def enforce_targets() -> bool:
    return os.environ.get("HARNESS_BENCH_ENFORCE") == "1"


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    """The real ProfNER corpus when it is beside the checkout, else the embedded sample."""
    return load_corpus(SHARED_ZIP if SHARED_ZIP.exists() else SAMPLE_CORPUS)


@pytest.fixture(scope="session")
def tweets(corpus: Corpus) -> dict[str, Tweet]:
    return benchmark_tweets(corpus.split("valid").tweets)


@pytest.fixture(scope="session")
def reference_folders(corpus: Corpus, tmp_path_factory) -> dict[str, Path]:
    from harness.reference_models import REFERENCE_BUILDERS

    train = corpus.gold_split("train").tweets
    return {
        name: build(tmp_path_factory.mktemp(f"reference-{name}"), train)
        for name, build in REFERENCE_BUILDERS.items()
    }


def load(folder: Path, precision: str) -> System:
    system = registry.load_saved(folder)
    system.show_progress = False
    return system.use_precision(precision)


def trained_runs() -> list[Path]:
    raw = os.environ.get("HARNESS_BENCH_RUNS", "")
    return [Path(p) for p in raw.split(os.pathsep) if p]
