"""Single-prediction CPU latency and parameter counts (the paper's Table 4), per system
and inference precision, on a median-length and the longest valid tweet.

    pytest benchmarks/ --benchmark-json bench.json
"""

from __future__ import annotations

import pytest

from benchmarks.conftest import TARGET_MS, enforce_targets, load, trained_runs
from core.system import TIMED_PRECISIONS
from harness.benchmarking import is_untrained, model_folder, recorded_f1
from systems.lookup import LookupSystem


def record(benchmark, system, precision: str, tweet, untrained: bool) -> None:
    benchmark.extra_info.update(
        system=system.name,
        parameters=system.parameter_count() if precision == "fp32" else None,
        precision=precision,
        untrained=untrained,
        tweet_characters=len(tweet.text),
        target_ms=TARGET_MS.get(system.name),
    )


@pytest.mark.parametrize("kind", ["median", "long"])
@pytest.mark.parametrize("precision", TIMED_PRECISIONS)
@pytest.mark.parametrize("name", ["transformer", "rnn"])
def test_full_size_architecture(benchmark, reference_folders, tweets, name, precision, kind):
    """Untrained full-size architectures: latency does not depend on weight values."""
    folder = reference_folders[name]
    system = load(folder, precision)
    tweet = tweets[kind]
    record(benchmark, system, precision, tweet, untrained=True)
    benchmark.extra_info["parameters"] = load(folder, "fp32").parameter_count()
    benchmark.pedantic(system.predict, args=([tweet],), rounds=30, warmup_rounds=3)
    if enforce_targets() and kind == "median" and precision == "int8":
        assert benchmark.stats.stats.median * 1000 <= TARGET_MS[name]


@pytest.mark.parametrize("kind", ["median", "long"])
def test_lookup(benchmark, corpus, tweets, kind):
    system = LookupSystem().fit(corpus.gold_split("train").tweets)
    record(benchmark, system, "fp32", tweets[kind], untrained=False)
    benchmark.pedantic(system.predict, args=([tweets[kind]],), rounds=50, warmup_rounds=3)


@pytest.mark.parametrize("precision", TIMED_PRECISIONS)
@pytest.mark.parametrize("run", trained_runs(), ids=str)
def test_trained_run(benchmark, tweets, run, precision):
    """Trained models named in HARNESS_BENCH_RUNS (run folders), median tweet."""
    folder = model_folder(run)
    system = load(folder, precision)
    record(benchmark, system, precision, tweets["median"], untrained=is_untrained(folder))
    benchmark.extra_info["recorded_valid_f1"] = recorded_f1(run)
    benchmark.pedantic(system.predict, args=([tweets["median"]],), rounds=30, warmup_rounds=3)
