"""The timing helpers behind ``harness bench``: interleaving, statistics, tweet choice,
and ``harness bench``'s progress bars.

No assertion here depends on how fast the machine is."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.tweets import Tweet
from harness.benchmarking import measure_with_progress
from harness.cli import main
from harness.latency import benchmark_tweets, measure_interleaved, summarise


def test_interleaved_calls_alternate_round_by_round_after_warmup():
    log: list[str] = []
    timed = measure_interleaved(
        {"fp32": lambda: log.append("fp32"), "int8": lambda: log.append("int8")},
        rounds=3,
        warmup=2,
    )
    assert log[:4] == ["fp32", "fp32", "int8", "int8"]  # warm-up, untimed
    assert log[4:] == ["fp32", "int8"] * 3  # one call of each per round
    assert set(timed) == {"fp32", "int8"}
    assert all(latency.rounds == 3 for latency in timed.values())


def test_summary_statistics_of_known_samples():
    latency = summarise([4.0, 1.0, 2.0, 3.0])
    assert (latency.mean_ms, latency.median_ms, latency.min_ms) == (2.5, 2.5, 1.0)
    assert latency.std_ms == pytest.approx(1.2909944)
    assert str(latency) == "2.5 ± 1.3 ms (median 2.5)"
    assert summarise([7.0]).std_ms == 0.0


def test_measure_rejects_zero_rounds_and_counts_calls():
    calls = []
    timed = measure_interleaved({"one": lambda: calls.append(1)}, rounds=5, warmup=1)
    assert timed["one"].rounds == 5
    assert len(calls) == 6
    with pytest.raises(ValueError, match="at least 1"):
        measure_interleaved({"one": lambda: None}, rounds=0)


def test_benchmark_tweets_are_the_median_length_and_the_longest():
    tweets = [Tweet(str(i), "x" * n) for i, n in enumerate([5, 1, 9, 3, 7])]
    chosen = benchmark_tweets(tweets)
    assert (len(chosen["median"].text), len(chosen["long"].text)) == (5, 9)
    with pytest.raises(ValueError, match="no tweets"):
        benchmark_tweets([])


def test_the_progress_bar_ticks_between_timed_calls_and_is_left_out(capsys):
    log: list[str] = []
    calls = {"fp32": lambda: log.append("fp32"), "int8": lambda: log.append("int8")}
    timed = measure_with_progress(calls, rounds=3, warmup=1, label="model", progress=True)
    assert set(timed) == {"fp32", "int8"}  # the bar's tick has no figure
    assert all(latency.rounds == 3 for latency in timed.values())
    assert log[2:] == ["fp32", "int8"] * 3
    assert "model: timing 2 calls a round" in capsys.readouterr().err
    measure_with_progress(calls, rounds=1, warmup=0, label="model", progress=False)
    assert capsys.readouterr().err == ""


@pytest.fixture(scope="module")
def lookup_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bench") / "run"
    result = CliRunner().invoke(
        main, ["run", "--system", "lookup", "--out", str(folder), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    return folder


@pytest.mark.parametrize("flag", ["--progress", "--no-progress"])
def test_bench_shows_progress_bars_on_stderr_unless_told_not_to(lookup_run, flag):
    args = ["bench", str(lookup_run), "--rounds", "2", "--warmup", "0", "--score", flag]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "| lookup |" in result.stdout  # the table does not depend on the flag
    bars = ("timing 2 calls a round", "lookup: predicting")  # timing, and --score's predict
    if flag == "--progress":
        assert all(bar in result.stderr for bar in bars), result.stderr
    else:
        assert not any(bar in result.stderr for bar in bars), result.stderr
        assert "|" not in result.stderr and "%" not in result.stderr  # no bar of any kind


def test_bench_score_records_batched_throughput_and_all_paths(lookup_run, tmp_path):
    out = tmp_path / "bench.json"
    args = ["bench", str(lookup_run), "--rounds", "2", "--warmup", "0", "--score"]
    args += ["--precision", "all", "--no-progress", "--json", str(out)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    # a dictionary declares one path: fp32, and auto resolving to it
    assert [(r["engine"], r["precision"], r["resolved"]) for r in rows] == [
        ("torch", "fp32", "fp32"),
        ("torch", "auto", "fp32"),
    ]
    for row in rows:
        assert row["batched_tweets_per_s"] > 0
        median_ms = row["latency"]["median"]["median_ms"]
        assert row["batching_gain"] == pytest.approx(row["batched_tweets_per_s"] * median_ms / 1000)
    assert "batched valid" in result.stdout and "tweets/s (" in result.stdout
