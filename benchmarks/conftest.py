"""Fixtures of the latency benchmarks: the corpus, the two benchmark tweets and models.

Models are loaded from saved folders on the CPU, through ``registry.load_saved`` -- the
path a user's GPU-trained model takes. Without trained runs the paper's full-size
architectures are built untrained (``harness.reference_models``); trained runs are
benchmarked too when ``HARNESS_BENCH_RUNS`` lists their folders (``os.pathsep``-separated).

Targets on a 2-core CPU (the issue's; recorded in each benchmark's ``extra_info`` and
enforced only with ``HARNESS_BENCH_ENFORCE=1``, since shared machines are noisy), per CPU
kind: one with AMX, or one with AVX2 only.

The default run stays within minutes; ``--bench-long`` adds the throughput over every
train + valid tweet and the Hugging Face pipeline comparison (half an hour on 2 cores).
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
#: milliseconds per single prediction (median tweet) with the fast path, by CPU kind
TARGET_MS = {
    "amx": {"transformer": 8.0, "rnn": 1.5},
    "avx2": {"transformer": 30.0, "rnn": 3.7},
}
#: batched predict against one call per tweet, tweets per second
TARGET_BATCH_SPEEDUP = 2.0
#: tweets per second, transformer, batched over train + valid
TARGET_THROUGHPUT = 60.0
#: bytes of peak resident memory of a transformer predictor
TARGET_PEAK_BYTES = 1 << 30


def enforce_targets() -> bool:
    return os.environ.get("HARNESS_BENCH_ENFORCE") == "1"


def pytest_addoption(parser) -> None:
    parser.addoption(
        "--bench-long",
        action="store_true",
        help="also run the long throughput benchmarks (every train + valid tweet)",
    )


def pytest_collection_modifyitems(config, items) -> None:
    if config.getoption("--bench-long"):
        return
    skip = pytest.mark.skip(reason="long benchmark: run with --bench-long")
    for item in items:
        # the marker, not the keyword: a parameter id "long" (the long tweet) is a keyword
        if item.get_closest_marker("long") is not None:
            item.add_marker(skip)


def cpu_kind() -> str:
    """Which row of ``TARGET_MS`` applies: ``amx`` when the CPU has AMX tiles."""
    from systems.neural.inference import cpu_flags

    return "amx" if "amx_tile" in cpu_flags() else "avx2"


def target_ms(system: str) -> float | None:
    return TARGET_MS[cpu_kind()].get(system)


@pytest.fixture(scope="session")
def machine() -> str:
    from harness.benchmarking import machine_description

    return machine_description()


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


def load(folder: Path, precision: str, engine: str = "torch") -> System:
    system = registry.load_saved(folder)
    system.show_progress = False
    return system.use_precision(precision, engine)


def trained_runs() -> list[Path]:
    raw = os.environ.get("HARNESS_BENCH_RUNS", "")
    return [Path(p) for p in raw.split(os.pathsep) if p]
