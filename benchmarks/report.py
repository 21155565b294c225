"""The closing summary of ``pytest benchmarks/``: the figures a person reads, in 120 columns.

pytest-benchmark's table holds every statistic of every timed call, one row per test;
what a reader wants is fewer numbers side by side: each model's latency per inference
path on both tweets with its ratio to that model's PyTorch fp32, the CPU's limit with the
engine that reached it, the peak memory of each predictor, and the machine. The
benchmarks leave what the summary needs in their ``extra_info`` (``section`` says which
part of the summary a figure belongs to); figures that are not timings (peak memory) are
collected apart, as they must not appear in the timing table.

Kept free of pytest so that a test renders it from made-up figures.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: the summary's width: a terminal of 120 columns shows every line whole
WIDTH = 120
#: ``extra_info["section"]`` of each kind of figure
LATENCY, CPU_LIMIT, RNN_LIMIT = "latency", "cpu-limit", "rnn-limit"
BATCHING, THROUGHPUT, PIPELINE = "batching", "throughput", "pipeline"
#: the path every ratio refers to
BASELINE = "torch fp32"
TWEETS = ("median", "long")


@dataclass(frozen=True)
class Figure:
    """One timed benchmark as the summary reads it: its median and its ``extra_info``."""

    median_s: float
    extra: Mapping[str, Any]

    @property
    def median_ms(self) -> float:
        return self.median_s * 1000


@dataclass(frozen=True)
class PeakMemory:
    """Peak resident memory of a fresh predictor process: a size, not a timing."""

    model: str
    path: str
    megabytes: float
    target_megabytes: float | None = None


@dataclass
class Collected:
    """What the suite gathers besides pytest-benchmark's timings, for the summary and
    the JSON: peak memory, and sentences saying why a figure is left out."""

    memory: list[PeakMemory] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def path_label(engine: str, precision: str, runs_as: str = "") -> str:
    """``torch fp32``, ``onnxruntime int8``, ``auto -> openvino bf16``, ``auto -> torch
    int8`` (a system names its PyTorch paths by the precision alone)."""
    if precision == "auto":
        if not runs_as:
            return "auto"
        return f"auto -> {runs_as if ' ' in runs_as else f'torch {runs_as}'}"
    return f"{engine} {precision}"


def render_summary(
    figures: Sequence[Figure],
    collected: Collected,
    machine: str,
    cpu_features: str = "",
    targets: str = "",
) -> list[str]:
    """The summary's lines, none longer than ``WIDTH``; empty when nothing was measured."""
    if not figures and not collected.memory and not collected.notes:
        return []
    lines = wrapped(f"CPU: {machine}")
    if cpu_features:
        lines += wrapped(f"CPU features the paths use: {cpu_features}")
    sections = (
        latency_lines(of(figures, LATENCY), targets),
        limit_lines(of(figures, CPU_LIMIT), of(figures, RNN_LIMIT)),
        batching_lines(of(figures, BATCHING), of(figures, THROUGHPUT), of(figures, PIPELINE)),
        memory_lines(collected.memory),
        [line for note in collected.notes for line in wrapped(f"Note: {note}", "  ")],
    )
    for section in sections:
        if section:
            lines += ["", *section]
    return lines


def of(figures: Iterable[Figure], section: str) -> list[Figure]:
    return [f for f in figures if f.extra.get("section") == section]


def wrapped(text: str, indent: str = "    ") -> list[str]:
    return textwrap.wrap(text, WIDTH, subsequent_indent=indent, break_on_hyphens=False)


def fit(text: str, width: int) -> str:
    """``text`` in ``width`` columns, cut with ``...`` when longer."""
    return text if len(text) <= width else text[: width - 3] + "..."


def latency_lines(figures: Sequence[Figure], targets: str) -> list[str]:
    """One row per model and path: median ms on each tweet and the ratio to the same
    model's torch fp32 on the same tweet (``-`` where that baseline was not timed)."""
    if not figures:
        return []
    cells: dict[tuple[str, str], dict[str, Figure]] = {}
    characters: dict[str, int] = {}
    for figure in figures:
        extra = figure.extra
        label = extra.get("label") or path_label(
            extra["engine"], extra["precision"], extra.get("path", "")
        )
        tweet = extra["tweet"]
        cells.setdefault((extra["model"], label), {})[tweet] = figure
        characters.setdefault(tweet, extra.get("tweet_characters", 0))
    tweets = [t for t in TWEETS if t in characters]
    model_width = min(34, max(len("model"), *(len(model) for model, _ in cells)))
    path_width = min(26, max(len("path"), *(len(path) for _, path in cells)))
    header = f"{'model':<{model_width}}  {'path':<{path_width}}"
    for tweet in tweets:
        header += f"  {f'{tweet} tweet ({characters[tweet]} ch)':>22}"
    lines = [
        *wrapped(
            "Latency: one predict() call on one tweet, median ms, and the ratio to the same "
            f"model's {BASELINE} on that tweet"
        ),
        header,
    ]
    for (model, path), by_tweet in cells.items():
        row = f"{fit(model, model_width):<{model_width}}  {fit(path, path_width):<{path_width}}"
        for tweet in tweets:
            figure = by_tweet.get(tweet)
            if figure is None:
                row += f"  {'-':>22}"
                continue
            base = cells.get((model, BASELINE), {}).get(tweet)
            ratio = f"{figure.median_s / base.median_s:.2f}x" if base else "-"
            row += f"  {figure.median_ms:>12.1f} ms {ratio:>6}"
        lines.append(row)
    if targets:
        lines += wrapped(targets, "  ")
    return lines


def limit_lines(encoder: Sequence[Figure], recurrent: Sequence[Figure]) -> list[str]:
    """The CPU's limit per number type: the products alone, on the engine that was
    fastest (int8), with the other engines timed for it."""
    lines: list[str] = []
    if encoder:
        first = encoder[0].extra
        lines += wrapped(
            "CPU limit: the BETO-sized encoder's weight products alone, median tweet "
            f"({first.get('pieces', '?')} pieces), fastest engine per number type"
        )
        for figure in encoder:
            extra = figure.extra
            row = (
                f"  {extra['number_type']:<5} {figure.median_ms:>9.1f} ms  "
                f"{extra.get('engine', 'torch'):<28} {extra.get('gflop_per_s', 0):>7.0f} GFLOP/s"
            )
            others = {
                engine: ms
                for engine, ms in extra.get("engines_ms", {}).items()
                if engine != extra.get("engine")
            }
            lines.append(row)
            if others:
                also = ", ".join(f"{e} {ms:.0f} ms" for e, ms in others.items())
                lines += wrapped(f"{'':19}other engines, briefly timed: {also}", " " * 21)
    if recurrent:
        first = recurrent[0].extra
        parts = ", ".join(
            f"{f.extra['number_type']} {f.median_ms:.2f} ms ({f.extra.get('engine', 'torch')})"
            for f in recurrent
        )
        lines += wrapped(
            "RNN limit: Table 3's BiGRU recurrent products alone, median tweet "
            f"({first.get('words', '?')} words, both directions): {parts}"
        )
    return lines


def batching_lines(
    batching: Sequence[Figure], throughput: Sequence[Figure], pipeline: Sequence[Figure]
) -> list[str]:
    lines: list[str] = []
    if batching:
        parts = ", ".join(
            f"{f.extra['system']} {f.extra['tweets_per_second']:.1f} tweets/s "
            f"({f.extra['speedup']:.2f}x one call per tweet)"
            for f in batching
        )
        tweets = batching[0].extra.get("tweets", "?")
        lines += wrapped(f"Batching, {tweets} valid tweets in one predict() call: {parts}")
    if throughput:
        parts = ", ".join(
            f"{f.extra['system']} {f.extra['precision']} {f.extra['tweets_per_second']:.1f}"
            for f in throughput
        )
        tweets = throughput[0].extra.get("tweets", "?")
        lines += wrapped(f"Throughput, all {tweets} train + valid tweets, tweets/s: {parts}")
    if pipeline:
        parts = ", ".join(f"{f.extra['predictor']} {f.median_ms:.1f} ms" for f in pipeline)
        lines += wrapped(f"Same encoder, fp32, median tweet, harness against HF pipeline: {parts}")
    return lines


def memory_lines(memory: Sequence[PeakMemory]) -> list[str]:
    if not memory:
        return []
    target = next((m.target_megabytes for m in memory if m.target_megabytes), None)
    lines = wrapped(
        f"Peak memory of a fresh process loading the {memory[0].model}, predicting the long "
        "tweet (VmHWM" + (f"; target < {target:.0f} MiB)" if target else ")")
    )
    width = max(len(m.path) for m in memory)
    lines += [f"  {m.path:<{width}}  {m.megabytes:>7.0f} MiB" for m in memory]
    return lines
