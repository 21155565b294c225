"""Single-prediction CPU latency and parameter counts (the paper's Table 4), per system
and inference path, on a median-length and the longest valid tweet.

    pytest benchmarks/ --benchmark-json bench.json

Each system's rows form a group of the benchmark table (one per tweet); the closing
summary puts every path's median beside the same model's torch fp32.
"""

from __future__ import annotations

import pytest

from benchmarks.conftest import (
    NO_RUNS,
    declared_paths,
    enforce_targets,
    load,
    path_id,
    path_marks,
    target_ms,
    trained_runs,
)
from benchmarks.report import LATENCY
from core.system import read_system_file
from harness.benchmarking import is_untrained, model_folder, recorded_f1
from systems.lookup import LookupSystem

#: the untrained full-size models, labelled as the summary names them
MODELS = {"transformer": "transformer, BETO-sized", "rnn": "rnn, Table 3"}
#: what ``-m quick`` times of each model: the baseline and the path a user gets by default
QUICK_PATHS = {("torch", "fp32"), ("torch", "auto")}


def full_size_params() -> list:
    """(model, path, tweet) of every timed row; quick ones marked, impossible ones skip."""
    return [
        pytest.param(
            name,
            path,
            kind,
            id=f"{name}-{path_id(*path)}-{kind}",
            marks=path_marks(*path, quick=path in QUICK_PATHS and kind == "median"),
        )
        for name in MODELS
        for path in declared_paths(name)
        for kind in ("median", "long")
    ]


def record(benchmark, system, model, path, kind, tweet, untrained, parameters, machine) -> None:
    """What the table's group and the closing summary need, in ``extra_info``."""
    engine, precision = path
    benchmark.group = f"latency: {model}, {kind} tweet"
    benchmark.extra_info.update(
        section=LATENCY,
        model=model,
        tweet=kind,
        system=system.name,
        parameters=parameters,
        engine=engine,
        precision=precision,
        path=system.inference_path,
        untrained=untrained,
        tweet_characters=len(tweet.text),
        target_ms=target_ms(system.name),
        cpu=machine,
    )


def fast_enough(benchmark, name: str) -> None:
    target = target_ms(name)
    if enforce_targets() and target is not None:
        assert benchmark.stats.stats.median * 1000 <= target


@pytest.mark.parametrize(("name", "path", "kind"), full_size_params())
def test_untrained(benchmark, reference_folders, tweets, machine, name, path, kind):
    """Untrained full-size architectures: latency does not depend on weight values."""
    folder = reference_folders[name]
    system = load(folder, path[1], path[0])
    tweet = tweets[kind]
    parameters = load(folder, "fp32").parameter_count()
    record(benchmark, system, MODELS[name], path, kind, tweet, True, parameters, machine)
    benchmark.pedantic(system.predict, args=([tweet],), rounds=30, warmup_rounds=3)
    if kind == "median" and path == ("torch", "auto"):
        fast_enough(benchmark, name)


@pytest.mark.parametrize(
    "kind", [pytest.param("median", marks=pytest.mark.quick), pytest.param("long")]
)
def test_lookup(benchmark, corpus, tweets, machine, kind):
    """The dictionary system: no neural path, so no ratio to fp32."""
    system = LookupSystem().fit(corpus.gold_split("train").tweets)
    path = ("python", "fp32")
    record(benchmark, system, "lookup", path, kind, tweets[kind], False, 0, machine)
    benchmark.extra_info.update(parameters=system.parameter_count(), label="dictionary")
    benchmark.pedantic(system.predict, args=([tweets[kind]],), rounds=50, warmup_rounds=3)


def trained_params() -> list:
    """(run, path) of each trained run named in HARNESS_BENCH_RUNS; without any, one row
    that skips saying how to name them (not pytest's 'got empty parameter set')."""
    runs = trained_runs()
    if not runs:
        return [pytest.param(None, None, id="no-runs", marks=pytest.mark.skip(reason=NO_RUNS))]
    return [
        pytest.param(run, path, id=f"{run.name}-{path_id(*path)}", marks=path_marks(*path))
        for run in runs
        for path in declared_paths(read_system_file(model_folder(run))["system"])
    ]


@pytest.mark.parametrize(("run", "path"), trained_params())
def test_trained_run(benchmark, tweets, machine, run, path):
    """Trained models named in HARNESS_BENCH_RUNS (run folders), median tweet."""
    folder = model_folder(run)
    system = load(folder, path[1], path[0])
    parameters = load(folder, "fp32").parameter_count()
    model = f"{system.name}, {run.name}"
    tweet = tweets["median"]
    record(
        benchmark, system, model, path, "median", tweet, is_untrained(folder), parameters, machine
    )
    benchmark.extra_info["recorded_valid_f1"] = recorded_f1(run)
    benchmark.pedantic(system.predict, args=([tweet],), rounds=30, warmup_rounds=3)
