"""Fixtures of the latency benchmarks: the corpus, the two benchmark tweets and models.

Models are loaded from saved folders on the CPU, through ``registry.load_saved`` -- the
path a user's GPU-trained model takes. Without trained runs the paper's full-size
architectures are built untrained (``harness.reference_models``); trained runs are
benchmarked too when ``HARNESS_BENCH_RUNS`` lists their folders (``os.pathsep``-separated).

Targets on a 2-core CPU (the issue's; recorded in each benchmark's ``extra_info`` and
enforced only with ``HARNESS_BENCH_ENFORCE=1``, since shared machines are noisy), per CPU
kind: one with AMX, or one with AVX2 only.

Three suites: ``-m quick`` (a representative few: lookup, both full-size models at fp32
and on their ``auto`` path, the CPU's limit), the default one, and ``--bench-long``,
which adds the throughput over every train + valid tweet and the Hugging Face pipeline
comparison (half an hour on 2 cores).

What a person reads: pytest-benchmark's table in milliseconds within 120 columns (the
defaults set in ``pytest_configure``; any ``--benchmark-*`` option given wins), then a
closing summary (``benchmarks.report``): latency per model and path with its ratio to
fp32, the CPU's limit and its engine, peak memory, the CPU. Peak memory is no timing: it
is collected apart (``record_peak_memory``), shown in the summary and written to the
``--benchmark-json`` file under ``peak_memory``.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import pytest

from benchmarks.report import Collected, Figure, PeakMemory, render_summary
from core.corpus import Corpus, load_corpus
from core.datasets import SAMPLE_CORPUS
from core.system import System
from core.tweets import Tweet
from harness import registry
from harness.latency import benchmark_tweets

SHARED_ZIP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "profner.zip"
#: milliseconds per single prediction (median tweet) on the path ``--precision auto``
#: picks, by CPU kind (issue 28: the paper's Table 4 beaten on two cores; the untrained
#: "transformer" reference is BETO-sized)
TARGET_MS = {
    "amx": {"transformer": 20.0, "rnn": 2.0},
    "avx2": {"transformer": 40.0, "rnn": 3.7},
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


#: pytest-benchmark's display options this suite sets unless the user gave them: times in
#: ms (not µs), the statistics that matter, names without the file (fits 120 columns)
DISPLAY_DEFAULTS: dict[str, tuple[str, object]] = {
    "benchmark_time_unit": ("--benchmark-time-unit", "ms"),
    "benchmark_columns": ("--benchmark-columns", ["median", "iqr", "min", "rounds"]),
    "benchmark_name": ("--benchmark-name", "short"),
}
COLLECTED = pytest.StashKey[Collected]()


def given_options(config: pytest.Config) -> list[str]:
    """Every option the user gave: the command line, PYTEST_ADDOPTS and the ini's
    addopts (pytest-benchmark's defaults cannot be told apart from a value given)."""
    args = [str(a) for a in config.invocation_params.args]
    args += shlex.split(os.environ.get("PYTEST_ADDOPTS", ""))
    args += [str(a) for a in config.getini("addopts")]
    return args


def pytest_configure(config: pytest.Config) -> None:
    """Set the display defaults before pytest-benchmark reads them (its own
    ``pytest_configure`` runs last), and on its session when it already has."""
    given = given_options(config)
    session = getattr(config, "_benchmarksession", None)
    for dest, (flag, value) in DISPLAY_DEFAULTS.items():
        if not hasattr(config.option, dest):  # pytest-benchmark not loaded
            continue
        if any(arg == flag or arg.startswith(f"{flag}=") for arg in given):
            continue
        setattr(config.option, dest, value)
        if session is not None and dest == "benchmark_columns":
            session.columns = value
        if session is not None and dest == "benchmark_name":
            from pytest_benchmark.utils import NAME_FORMATTERS

            session.name_format = NAME_FORMATTERS[value]


def collected(config: pytest.Config) -> Collected:
    if COLLECTED not in config.stash:
        config.stash[COLLECTED] = Collected()
    return config.stash[COLLECTED]


@pytest.fixture
def record_peak_memory(request, record_property) -> Callable[[PeakMemory], None]:
    """Keep a peak-memory figure for the summary and the JSON (and as a test property
    for junit XML): a size in MiB must not pose as a timing in the benchmark table."""

    def record(figure: PeakMemory) -> None:
        record_property("peak_megabytes", figure.megabytes)
        collected(request.config).memory.append(figure)

    return record


@pytest.fixture
def summary_note(request) -> Callable[[str], None]:
    """Add a sentence to the summary, e.g. why a figure is left out."""
    return collected(request.config).notes.append


def timed_figures(config: pytest.Config) -> list[Figure]:
    """The medians and ``extra_info`` of every benchmark that ran."""
    session = getattr(config, "_benchmarksession", None)
    figures = []
    for bench in getattr(session, "benchmarks", []):
        if bench and not bench.has_error:
            figures.append(Figure(median_s=bench.stats.median, extra=dict(bench.extra_info)))
    return figures


def cpu_features() -> str:
    from core.machine import cpu_int8_kind, cpu_supports_bf16, masked_flags

    int8 = "VNNI" if cpu_int8_kind() == "vnni" else "none (AVX2 only)"
    text = f"int8 dot products {int8}; bf16 {'native' if cpu_supports_bf16() else 'none'}"
    if masked_flags():
        text += f" (flags masked by HARNESS_CPU_FLAGS_OFF: {masked_flags()})"
    return text


def targets_line() -> str:
    kind = cpu_kind()
    targets = ", ".join(f"{name} {ms:g} ms" for name, ms in TARGET_MS[kind].items())
    cpus = "CPUs with AMX" if kind == "amx" else "CPUs without AMX"
    enforced = "enforced" if enforce_targets() else "enforced only with HARNESS_BENCH_ENFORCE=1"
    return f"Targets on the auto path, median tweet, {cpus}: {targets} ({enforced})"


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's table
def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    from harness.benchmarking import machine_description

    lines = render_summary(
        timed_figures(config),
        collected(config),
        machine_description(),
        cpu_features(),
        targets_line(),
    )
    if not lines:
        return
    terminalreporter.write_sep("=", "benchmark summary")
    for line in lines:
        terminalreporter.write_line(line)


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(config: pytest.Config, benchmarks, output_json: dict) -> None:
    """Peak memory and the notes go into ``--benchmark-json`` beside the timings."""
    found = collected(config)
    output_json["peak_memory"] = [asdict(figure) for figure in found.memory]
    output_json["notes"] = list(found.notes)


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
    from core.machine import cpu_flags

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


#: the sentence a trained-model row skips with when HARNESS_BENCH_RUNS names none
NO_RUNS = "no trained runs: set HARNESS_BENCH_RUNS=RUN[:RUN...] to benchmark trained models"


def trained_runs() -> list[Path]:
    raw = os.environ.get("HARNESS_BENCH_RUNS", "")
    return [Path(p) for p in raw.split(os.pathsep) if p]


def declared_paths(system: str) -> list[tuple[str, str]]:
    """Every inference path ``system`` declares, (engine, precision), and ``auto``; those
    this machine lacks skip, saying why (``path_marks``)."""
    from harness import registry

    declared = [(p.engine, p.precision) for p in registry.get(system).inference_paths]
    return [*declared, ("torch", "auto")]


def path_unavailable(engine: str, precision: str) -> str | None:
    """Why this machine cannot time the path (the CPU's flags, the install extras), or
    None: decided from the flags, never assumed from the machine the suite was written on."""
    from core.inference_paths import InferencePath

    return InferencePath(engine, precision).obstacle()


def path_id(engine: str, precision: str) -> str:
    return precision if precision == "auto" else f"{engine}-{precision}"


def path_marks(engine: str, precision: str, quick: bool = False) -> list[pytest.MarkDecorator]:
    """A skip with the reason where the path cannot run here; ``quick`` where wanted."""
    marks = [pytest.mark.quick] if quick else []
    reason = path_unavailable(engine, precision)
    if reason:
        marks.append(pytest.mark.skip(reason=reason))
    return marks
