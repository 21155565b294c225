"""Table 4 of the paper, for any saved model: parameters, single-prediction CPU latency
(median-length and long tweet), and F1, per inference precision.

Used by ``harness bench``; the pytest-benchmark suite in ``benchmarks/`` times the same
``predict`` path with its own statistics.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import torch
from tqdm import tqdm

from core.corpus import Corpus, load_corpus
from core.errors import HarnessError
from core.inference_paths import AUTO, BASELINE, InferencePath, runnable
from core.system import SYSTEM_FILE, System
from core.tweets import Tweet
from eval import score_predictions
from harness import registry
from harness.latency import Latency, benchmark_tweets, measure_interleaved
from harness.profiling import Split, profile_split
from harness.reference_models import REFERENCE_BUILDERS

log = logging.getLogger("harness")

K = TypeVar("K")


@dataclass
class BenchRow:
    system: str
    source: str
    parameters: int
    precision: str
    untrained: bool
    latency: dict[str, Latency]
    f1: dict[str, float] = field(default_factory=dict)
    ratio_to_fp32: float | None = None
    engine: str = "torch"
    #: what the path became (``auto`` resolves to a concrete engine and precision)
    resolved: str = ""
    #: with ``--profile``: the median tweet's time in the heavy layers and in the rest
    split: Split | None = None
    #: with ``--score``: tweets per second of one batched ``predict`` of the valid split
    batched_tweets_per_s: float | None = None

    def batching_gain(self) -> float | None:
        """Batched tweets/s over one-call-per-tweet tweets/s (at the median tweet)."""
        if self.batched_tweets_per_s is None:
            return None
        return self.batched_tweets_per_s * self.latency["median"].median_ms / 1000

    def as_dict(self) -> dict[str, Any]:
        return {
            "system": self.system,
            "source": self.source,
            "parameters": self.parameters,
            "precision": self.precision,
            "engine": self.engine,
            "resolved": self.resolved or self.precision,
            "untrained": self.untrained,
            "latency": {k: v.as_dict() for k, v in self.latency.items()},
            "f1": self.f1,
            "ratio_to_fp32": self.ratio_to_fp32,
            "split": self.split.as_dict() if self.split else None,
            "batched_tweets_per_s": self.batched_tweets_per_s,
            "batching_gain": self.batching_gain(),
        }


def model_folder(path: Path) -> Path:
    """A run folder's ``model/`` or a model folder itself."""
    if (path / SYSTEM_FILE).is_file():
        return path
    if (path / "model" / SYSTEM_FILE).is_file():
        return path / "model"
    raise HarnessError(f"{path}: neither a run folder nor a saved model folder")


def recorded_f1(path: Path) -> dict[str, float]:
    metrics = path / "metrics.json"
    if not metrics.is_file():
        return {}
    valid = json.loads(metrics.read_text(encoding="utf-8")).get("scores", {}).get("valid", {})
    found = {}
    if "7a" in valid:
        found["7a"] = valid["7a"]["f1"]
    if "7b" in valid:
        found["7b_strict"] = valid["7b"]["strict"]["f1"]
    return found


def is_untrained(folder: Path) -> bool:
    architecture = folder / "architecture.json"
    if not architecture.is_file():
        return False
    return bool(json.loads(architecture.read_text(encoding="utf-8")).get("untrained"))


#: ``auto`` among the requested paths (it resolves to its own engine and precision)
AUTO_PATH = InferencePath("torch", AUTO)
#: every path a system declares that this machine runs, and ``auto``
ALL_PATHS = "all"


def load_for_cpu(folder: Path, path: InferencePath) -> System:
    system = registry.load_saved(folder)
    system.show_progress = False
    return system.use_precision(path.precision, path.engine)


def requested_paths(engines: Sequence[str], precisions: Sequence[str]) -> list[InferencePath]:
    """Every engine with every precision, PyTorch fp32 first (the baseline of every
    ratio); ``auto`` once, as the path it resolves to is its own engine's; ``all`` as
    itself, for :func:`paths_to_time` to expand per system."""
    paths: list[InferencePath] = [BASELINE]
    for engine in engines:
        for precision in precisions:
            if precision in (AUTO, ALL_PATHS):
                path = InferencePath("torch", precision)
            else:
                path = InferencePath(engine, precision)
            if path not in paths:
                paths.append(path)
    return paths


def paths_to_time(
    system: type[System], requested: Sequence[InferencePath], source: str
) -> list[InferencePath]:
    """The requested paths ``system`` declares and this machine runs, from the system's
    declaration (``System.inference_paths``), never by trying them; each one left out is
    logged with its reason."""
    chosen: list[InferencePath] = []
    for path in requested:
        if path.precision == ALL_PATHS:
            candidates = [*runnable(system.inference_paths), AUTO_PATH]
        else:
            candidates = [path]
        for candidate in candidates:
            if candidate in chosen:
                continue
            if candidate != AUTO_PATH and candidate not in system.inference_paths:
                log.warning("%s: %s skipped (not a path of %s)", source, candidate, system.name)
            elif candidate != AUTO_PATH and (obstacle := candidate.obstacle()):
                log.warning("%s: %s skipped (%s)", source, candidate, obstacle)
            else:
                chosen.append(candidate)
    return chosen


def valid_f1(
    system: System, corpus: Corpus, progress: bool = False
) -> tuple[dict[str, float], float]:
    """Score the system's predictions of the valid split (as ``harness score`` would), and
    the tweets per second of that one batched ``predict`` call.

    The system's own progress bar is on only for this whole-split prediction: during the
    timing it would draw inside every timed call."""
    split = corpus.gold_split("valid")
    system.show_progress = progress
    try:
        started = time.perf_counter()
        predictions = system.predict(split.tweets)
        seconds = time.perf_counter() - started
    finally:
        system.show_progress = False
    report = score_predictions(predictions, split).as_dict()
    f1 = {"7a": report["7a"]["f1"], "7b_strict": report["7b"]["strict"]["f1"]}
    return f1, len(split.tweets) / seconds


#: the key of the progress bar's tick among the timed calls (its figure is dropped)
_TICK = object()


def measure_with_progress(
    calls: Mapping[K, Callable[[], object]], rounds: int, warmup: int, label: str, progress: bool
) -> dict[K, Latency]:
    """``measure_interleaved`` with a bar that moves once per round when ``progress``.

    The bar's tick is one more call of the round, timed apart and dropped, so no timed
    ``predict`` ever includes the bar's drawing."""
    if not progress:
        return measure_interleaved(calls, rounds=rounds, warmup=warmup)
    with tqdm(
        total=rounds + warmup,
        desc=f"{label}: timing {len(calls)} calls a round",
        unit="round",
        leave=False,
    ) as bar:
        ticking: dict[object, Callable[[], object]] = {**calls, _TICK: bar.update}
        timed = measure_interleaved(ticking, rounds=rounds, warmup=warmup)
    return {key: timed[key] for key in calls}


def bench_model(
    folder: Path,
    source: str,
    tweets: dict[str, Tweet],
    requested: Sequence[InferencePath],
    rounds: int,
    warmup: int,
    corpus: Corpus | None = None,
    recorded: dict[str, float] | None = None,
    progress: bool = False,
    profile: bool = False,
) -> list[BenchRow]:
    """One row per inference path; F1 is re-scored on valid when ``corpus`` is given;
    ``profile`` adds each path's split (heavy layers / the rest), timed apart after the
    latency figures so that they carry no profiling wrapper.

    All paths are timed interleaved (``measure_interleaved``), so each ratio to fp32
    compares calls made under the same machine load. ``progress`` shows bars on stderr
    for the long steps: loading (an engine's first export takes minutes), timing, and
    scoring.
    """
    # counted on the fp32 model: quantised layers keep packed weights, not Parameters
    plain = registry.load_saved(folder)
    parameters = plain.parameter_count()
    paths = paths_to_time(type(plain), requested, source)
    del plain
    systems: dict[InferencePath, System] = {}
    loading = tqdm(paths, desc=f"{source}: loading", unit="path", leave=False, disable=not progress)
    for path in loading:
        try:
            systems[path] = load_for_cpu(folder, path)
        except HarnessError as err:  # declared and runnable, yet failed: an export, say
            log.warning("%s: %s failed, left out (%s)", source, path, err)
    calls = {
        (path, kind): partial(system.predict, [tweet])
        for path, system in systems.items()
        for kind, tweet in tweets.items()
    }
    timed = measure_with_progress(calls, rounds, warmup, source, progress)
    untrained = is_untrained(folder)
    base = BASELINE
    # medians: on a shared machine a few slow calls move a mean far more than a median
    baseline = timed[(base, "median")].median_ms if base in systems else None
    rows: list[BenchRow] = []
    for path, system in systems.items():
        latency = {kind: timed[(path, kind)] for kind in tweets}
        row = BenchRow(
            system=system.name,
            source=source,
            parameters=parameters,
            precision=path.precision,
            untrained=untrained,
            latency=latency,
            engine=path.engine,
            resolved=system.inference_path,
        )
        if profile:
            row.split = profile_split(system, tweets["median"], calls=rounds, warmup=warmup)
        if corpus is not None and not untrained:
            row.f1, row.batched_tweets_per_s = valid_f1(system, corpus, progress)
        elif path == base and recorded:
            row.f1 = dict(recorded)
        if baseline:
            row.ratio_to_fp32 = latency["median"].median_ms / baseline
        rows.append(row)
    return rows


def reference_rows(
    names: Sequence[str],
    corpus: Corpus,
    tweets: dict[str, Tweet],
    paths: Sequence[InferencePath],
    rounds: int,
    warmup: int,
    progress: bool = False,
    profile: bool = False,
) -> list[BenchRow]:
    """Rows for the untrained full-size architectures (see ``harness.reference_models``)."""
    rows = []
    train = corpus.gold_split("train").tweets
    for name in names:
        with tempfile.TemporaryDirectory(prefix=f"harness-bench-{name}-") as tmp:
            folder = REFERENCE_BUILDERS[name](Path(tmp), train)
            label = "BETO-sized, untrained" if name == "transformer" else "Table 3, untrained"
            rows += bench_model(
                folder, label, tweets, paths, rounds, warmup, progress=progress, profile=profile
            )
    return rows


def machine_description() -> str:
    """CPU model, cores and library versions, for the table's caption."""

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    threads = torch.get_num_threads()
    return (
        f"{model}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({threads} thread{'s' if threads != 1 else ''}), Python {platform.python_version()}"
    )


def render_markdown(rows: Sequence[BenchRow], machine: str, tweets: dict[str, Tweet]) -> str:
    """The Table-4-style markdown table."""
    lengths = ", ".join(f"{k} tweet {len(t.text)} characters" for k, t in tweets.items())
    profiled = any(row.split is not None for row in rows)
    batched = any(row.batched_tweets_per_s is not None for row in rows)
    lines = [
        "| system | model | parameters | path | 1 prediction, median tweet | "
        "vs fp32 | 1 prediction, long tweet | F1 7a | F1 7b strict |"
        + (" split, median tweet |" if profiled else "")
        + (" batched valid |" if batched else ""),
        "|---|---|---|---|---|---|---|---|---|"
        + ("---|" if profiled else "")
        + ("---|" if batched else ""),
    ]
    for row in rows:
        f1_a = f"{row.f1['7a']:.3f}" if "7a" in row.f1 else "–"
        f1_b = f"{row.f1['7b_strict']:.3f}" if "7b_strict" in row.f1 else "–"
        ratio = f"{row.ratio_to_fp32:.2f}×" if row.ratio_to_fp32 is not None else "–"
        split = f" {row.split if row.split else '–'} |" if profiled else ""
        gain = row.batching_gain()
        throughput = (
            f" {row.batched_tweets_per_s:.0f} tweets/s ({gain:.1f}×) |"
            if row.batched_tweets_per_s is not None and gain is not None
            else " – |"
        )
        lines.append(
            f"| {row.system} | {row.source} | {row.parameters:.3g} | {row_path(row)} | "
            f"{row.latency['median']} | {ratio} | {row.latency['long']} | {f1_a} | {f1_b} |"
            + split
            + (throughput if batched else "")
        )
    lines.append("")
    lines.append(
        f"Mean ± standard deviation (and median) over timed single-tweet `predict` calls "
        f"({lengths}); vs fp32: ratio of medians, median tweet; machine: {machine}."
    )
    if batched:
        lines.append(
            "Batched valid: tweets/s of one `predict` call over the whole valid split (with "
            "--score), and in brackets its ratio to one call per tweet at the median tweet."
        )
    if profiled:
        lines.append(
            "Split: median ms of one call spent in the encoder or the recurrent layers, and "
            "in everything else (tokens, batching, flags, heads, Viterbi, spans), timed on "
            "separate calls."
        )
    return "\n".join(lines)


def row_path(row: BenchRow) -> str:
    """``int8``, ``onnxruntime int8``, or ``auto: bf16`` (what auto resolved to)."""
    if row.precision == AUTO:
        return f"auto: {row.resolved}"
    return str(InferencePath(row.engine, row.precision))


def load_bench_corpus(data_path: Path) -> tuple[Corpus, dict[str, Tweet]]:
    corpus = load_corpus(data_path)
    return corpus, benchmark_tweets(corpus.split("valid").tweets)
