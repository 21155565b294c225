"""The benchmark suite's reports a person reads: the closing summary (from made-up
figures), pytest-benchmark's display defaults, the choice of the int8 limit's engine,
and, in one small run of the suite itself, the table in ms within 120 columns and the
trained-model rows skipping with a sentence.

No assertion depends on how fast the machine is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from benchmarks import conftest as bench_conftest
from benchmarks import test_cpu_limit as limit
from benchmarks.report import (
    CPU_LIMIT,
    LATENCY,
    WIDTH,
    Collected,
    Figure,
    PeakMemory,
    render_summary,
)

ROOT = Path(__file__).resolve().parents[1]


def latency(model: str, engine: str, precision: str, tweet: str, ms: float, runs_as: str = ""):
    extra = {
        "section": LATENCY,
        "model": model,
        "engine": engine,
        "precision": precision,
        "path": runs_as or precision,
        "tweet": tweet,
        "tweet_characters": 43 if tweet == "median" else 280,
    }
    return Figure(median_s=ms / 1000, extra=extra)


def summary() -> list[str]:
    model = "transformer, BETO-sized"
    figures = [
        latency(model, "torch", "fp32", "median", 100.0),
        latency(model, "torch", "fp32", "long", 200.0),
        latency(model, "torch", "auto", "median", 25.0, runs_as="openvino bf16"),
        latency("rnn, Table 3", "torch", "auto", "median", 5.0, runs_as="int8"),
        Figure(
            median_s=0.0119,
            extra={
                "section": CPU_LIMIT,
                "number_type": "int8",
                "engine": "onnxruntime MatMulInteger",
                "engines_ms": {"onnxruntime MatMulInteger": 12.0, "torch._int_mm": 1554.0},
                "pieces": 46,
                "gflop_per_s": 655.0,
            },
        ),
    ]
    collected = Collected(
        memory=[PeakMemory("BETO-sized transformer", "torch fp32", 1021.4, 1024)],
        notes=["a sentence " * 20],
    )
    machine = "AMD EPYC 7B13 64-Core Processor, 2 cores, torch 2.5.1+cpu (2 threads), " * 2
    return render_summary(figures, collected, machine, "int8 dot products VNNI", "targets")


def test_the_summary_fits_120_columns_and_puts_each_path_beside_fp32():
    lines = summary()
    assert all(len(line) <= WIDTH for line in lines), max(lines, key=len)
    text = "\n".join(lines)
    row = next(line for line in lines if "auto -> openvino bf16" in line)
    assert "25.0 ms" in row and "0.25x" in row  # same model's torch fp32, same tweet
    fp32 = next(line for line in lines if "torch fp32" in line and "transformer" in line)
    assert "1.00x" in fp32 and "200.0 ms" in fp32  # the long tweet has its own column
    rnn = next(line for line in lines if line.startswith("rnn"))
    assert "auto -> torch int8" in rnn and rnn.rstrip().endswith("-")  # no fp32 timed: no ratio
    assert "int8" in text and "onnxruntime MatMulInteger" in text  # the limit's engine
    assert "torch._int_mm 1554 ms" in text  # the others, for the reader to compare
    assert "1021 MiB" in text and "target < 1024 MiB" in text
    assert text.startswith("CPU: AMD EPYC")


def test_nothing_measured_prints_no_summary():
    assert render_summary([], Collected(), "machine") == []


def fake_config(args: list[str], **values) -> SimpleNamespace:
    option = SimpleNamespace(
        benchmark_time_unit=None, benchmark_columns=None, benchmark_name="normal", **values
    )
    return SimpleNamespace(
        option=option,
        invocation_params=SimpleNamespace(args=args),
        getini=lambda name: [],
    )


def test_display_defaults_apply_unless_the_user_gave_the_option(monkeypatch):
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    config = fake_config(["benchmarks/"])
    bench_conftest.pytest_configure(config)
    assert config.option.benchmark_time_unit == "ms"
    assert config.option.benchmark_name == "short"
    assert "median" in config.option.benchmark_columns
    given = fake_config(["--benchmark-time-unit=us", "--benchmark-name", "normal"])
    bench_conftest.pytest_configure(given)
    assert given.option.benchmark_time_unit is None  # pytest-benchmark keeps what was given
    assert given.option.benchmark_name == "normal"
    monkeypatch.setenv("PYTEST_ADDOPTS", "--benchmark-columns=min,max")
    from_env = fake_config([])
    bench_conftest.pytest_configure(from_env)
    assert from_env.option.benchmark_columns is None


def fake_engines(monkeypatch, medians: dict[str, float]) -> None:
    """Engines with made-up brief medians (ms); fp32's under the name 'torch'."""
    makers = [
        lambda rows, shapes, name=name: limit.Products(name, rows, lambda: name)
        for name in medians
        if name != "torch"
    ]
    monkeypatch.setattr(limit, "int8_engines", lambda: (makers, []))
    monkeypatch.setattr(
        limit, "torch_products", lambda rows, shapes, kind: limit.Products("torch", rows, str)
    )
    monkeypatch.setattr(limit, "brief_median_ms", lambda call: medians[call() or "torch"])


def test_the_int8_limit_is_the_fastest_engine(monkeypatch):
    fake_engines(monkeypatch, {"torch._int_mm": 1554.0, "ort": 12.0, "torch": 90.0})
    choice = limit.fastest_int8(46, [(768, 768)])
    assert choice.products is not None and choice.products.engine == "ort"
    assert choice.engines_ms == {"torch._int_mm": 1554.0, "ort": 12.0}
    assert choice.left_out == ""


def test_an_int8_limit_slower_than_fp32_is_left_out_saying_why(monkeypatch):
    fake_engines(monkeypatch, {"torch._int_mm": 1554.0, "torch": 90.0})
    choice = limit.fastest_int8(46, [(768, 768)])
    assert choice.products is None
    assert "left out" in choice.left_out and "torch._int_mm 1554 ms" in choice.left_out


def test_no_int8_engine_is_left_out_naming_what_is_missing(monkeypatch):
    monkeypatch.setattr(limit, "int8_engines", lambda: ([], ["onnxruntime not installed"]))
    choice = limit.fastest_int8(46, [(768, 768)])
    assert choice.products is None and "onnxruntime not installed" in choice.left_out


def test_the_suite_shows_ms_in_120_columns_and_says_why_trained_rows_skip():
    """A small run of the suite itself: the dictionary system's rows (no model to
    build) and the trained-model rows, with HARNESS_BENCH_RUNS unset."""
    env = {k: v for k, v in os.environ.items() if k not in ("HARNESS_BENCH_RUNS", "COLUMNS")}
    command = [sys.executable, "-m", "pytest", "benchmarks/test_latency.py"]
    command += ["-k", "lookup or trained_run", "-rs", "-p", "no:cacheprovider"]
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Name (time in ms)" in out
    table = out[out.index("Name (time in ms)") : out.index("benchmark summary")]
    assert all(len(line) <= WIDTH for line in table.splitlines()), table
    assert "got empty parameter set" not in out
    assert "SKIPPED [1]" in out and bench_conftest.NO_RUNS in out.replace("\n", "")
    summary_text = out[out.index("benchmark summary") :]
    assert "dictionary" in summary_text and "CPU:" in summary_text
