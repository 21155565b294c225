"""Single-prediction CPU latency and parameter counts (the paper's Table 4), per system
and inference path, on a median-length and the longest valid tweet.

    pytest benchmarks/ --benchmark-json bench.json
"""

from __future__ import annotations

import pytest

from benchmarks.conftest import (
    enforce_targets,
    load,
    target_ms,
    trained_runs,
)
from core.errors import HarnessError
from core.system import TIMED_PRECISIONS
from harness.benchmarking import is_untrained, model_folder, recorded_f1
from systems.lookup import LookupSystem
from systems.neural.inference import (
    cpu_supports_bf16,
    onnxruntime_available,
    openvino_available,
)

#: (engine, precision) of every path timed; bf16 only where the CPU has it natively
PATHS = [("torch", p) for p in TIMED_PRECISIONS]
if cpu_supports_bf16():
    PATHS.append(("torch", "bf16"))
if onnxruntime_available():
    PATHS += [("onnxruntime", "fp32"), ("onnxruntime", "int8")]
if openvino_available():  # encoders only: the RNN's rows skip
    PATHS += [("openvino", "int8")] + ([("openvino", "bf16")] if cpu_supports_bf16() else [])
IDS = [f"{engine}-{precision}" for engine, precision in PATHS]


def record(benchmark, system, path, tweet, untrained: bool, parameters: int, machine: str):
    engine, precision = path
    benchmark.extra_info.update(
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


@pytest.mark.parametrize("kind", ["median", "long"])
@pytest.mark.parametrize("path", PATHS, ids=IDS)
@pytest.mark.parametrize("name", ["transformer", "rnn"])
def test_full_size_architecture(benchmark, reference_folders, tweets, machine, name, path, kind):
    """Untrained full-size architectures: latency does not depend on weight values."""
    folder = reference_folders[name]
    try:
        system = load(folder, path[1], path[0])
    except HarnessError as err:  # e.g. the RNN's int8 on onnxruntime: no such path
        pytest.skip(str(err))
    tweet = tweets[kind]
    parameters = load(folder, "fp32").parameter_count()
    record(benchmark, system, path, tweet, True, parameters, machine)
    benchmark.pedantic(system.predict, args=([tweet],), rounds=30, warmup_rounds=3)
    if kind == "median" and path == ("torch", "int8"):
        fast_enough(benchmark, name)


@pytest.mark.parametrize("kind", ["median", "long"])
def test_lookup(benchmark, corpus, tweets, machine, kind):
    system = LookupSystem().fit(corpus.gold_split("train").tweets)
    record(benchmark, system, ("torch", "fp32"), tweets[kind], False, 0, machine)
    benchmark.extra_info["parameters"] = system.parameter_count()
    benchmark.pedantic(system.predict, args=([tweets[kind]],), rounds=50, warmup_rounds=3)


@pytest.mark.parametrize("path", PATHS, ids=IDS)
@pytest.mark.parametrize("run", trained_runs(), ids=str)
def test_trained_run(benchmark, tweets, machine, run, path):
    """Trained models named in HARNESS_BENCH_RUNS (run folders), median tweet."""
    folder = model_folder(run)
    try:
        system = load(folder, path[1], path[0])
    except HarnessError as err:  # e.g. int8 for an RNN on onnxruntime: no such path
        pytest.skip(str(err))
    parameters = load(folder, "fp32").parameter_count()
    record(benchmark, system, path, tweets["median"], is_untrained(folder), parameters, machine)
    benchmark.extra_info["recorded_valid_f1"] = recorded_f1(run)
    benchmark.pedantic(system.predict, args=([tweets["median"]],), rounds=30, warmup_rounds=3)
