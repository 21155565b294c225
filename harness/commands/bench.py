"""``harness bench``: Table 4 of the paper for saved models -- size, CPU latency, F1."""

from __future__ import annotations

import json
from pathlib import Path

import click

from core.datasets import resolve
from core.fileio import atomic_write_text
from core.inference_paths import AUTO, ENGINES, PRECISIONS, TIMED_PRECISIONS
from harness.benchmarking import (
    ALL_PATHS,
    bench_model,
    load_bench_corpus,
    machine_description,
    model_folder,
    recorded_f1,
    reference_rows,
    render_markdown,
    requested_paths,
)
from harness.commands.common import (
    choice_option,
    data_option,
    path_option,
    progress_option,
    run_corpus,
)
from harness.commands.path_listing import ListsInferencePaths

REFERENCES = ("transformer", "rnn")


@click.command("bench", cls=ListsInferencePaths)
@click.argument("runs", nargs=-1, type=click.Path(path_type=Path))
@choice_option(
    "--reference",
    REFERENCES,
    dest="references",
    multiple=True,
    help="Also time an untrained full-size architecture: the BETO-sized transformer "
    "or Table 3's RNN (repeatable). Default when no RUNS are given: both.",
)
@choice_option(
    "--precision",
    (*PRECISIONS, AUTO, ALL_PATHS),
    dest="precisions",
    multiple=True,
    help="Inference path(s) to time: fp32 (plain PyTorch), int8 (dynamic int8 "
    "quantisation keeping F1: GRU/LSTM layers of 128 units or more and the encoder's "
    "Linear layers except its first "
    "block and down-projections), int8-full (every Linear layer too: faster, costs F1), "
    "bf16 (CPUs with native bfloat16 only), auto (the fastest path that keeps F1 on this "
    "CPU; the table says which), all (every path the system declares that this machine "
    "runs, on every engine, and auto: 'harness systems NAME' lists them). Paths a system "
    "does not declare are skipped with a warning. [default: fp32, int8, int8-full]",
)
@choice_option(
    "--engine",
    ENGINES,
    dest="engines",
    multiple=True,
    help="Engine(s) to time each precision on: torch; onnxruntime (the 'onnx' extra); "
    "openvino (the 'openvino' extra). Which precisions each engine runs for each system "
    "is listed at the end of this help. [default: torch]",
)
@click.option("--rounds", default=30, show_default=True, help="Timed calls per figure.")
@click.option("--warmup", default=3, show_default=True, help="Untimed calls before timing.")
@click.option(
    "--score",
    is_flag=True,
    help="Predict the whole valid split at every precision and score it, to show "
    "what the fast path costs in F1 (trained models only).",
)
@click.option(
    "--profile",
    is_flag=True,
    help="Also split each path's median-tweet call into the encoder or recurrent layers "
    "and everything else (timed on separate calls).",
)
@click.option("--threads", type=int, default=None, help="torch CPU threads [default: all].")
@data_option(default=None)
@path_option("--json", "json_out", help="Also write every figure as JSON.")
@path_option("--markdown", "markdown_out", help="Also write the table to this file.")
@progress_option(
    "Show progress bars on stderr for the long steps: loading each path (an engine's "
    "first export), timing, and scoring with --score. The table on stdout is the same."
)
def command(
    runs: tuple[Path, ...],
    references: tuple[str, ...],
    precisions: tuple[str, ...],
    engines: tuple[str, ...],
    rounds: int,
    warmup: int,
    score: bool,
    profile: bool,
    threads: int | None,
    data: str | None,
    json_out: Path | None,
    markdown_out: Path | None,
    progress: bool,
) -> None:
    """Time single predictions of saved models on the CPU and print a Table-4-style
    markdown table: system, parameters, latency mean ± std of one `predict` call on a
    median-length and on the longest valid tweet, the ratio to plain fp32, and F1.

    RUNS are run folders (or model folders). Models trained anywhere, GPU included, are
    loaded on the CPU. F1 comes from each run's metrics.json, or is re-scored on valid
    at every precision with --score. The benchmark tweets come from the run's corpus
    (or --data; the embedded sample by default).

    \b
    Examples:
      harness bench                                  # untrained BETO-sized + Table 3 RNN
      harness bench runs/rnn-profner --score --precision fp32 --precision int8
      harness bench runs/rnn-profner --score --profile --precision all
      harness bench runs/transformer --engine torch --engine onnxruntime --precision int8
    """
    import torch

    if threads:
        torch.set_num_threads(threads)
    # torch fp32 always comes first: the baseline every ratio refers to
    paths = requested_paths(engines or ("torch",), precisions or TIMED_PRECISIONS)
    if not runs and not references:
        references = REFERENCES
    corpus_name = data or next((c for r in runs if (c := run_corpus(r))), None) or "sample"
    corpus, tweets = load_bench_corpus(resolve(corpus_name))
    rows = []
    for run in runs:
        folder = model_folder(run)
        rows += bench_model(
            folder,
            str(run),
            tweets,
            paths,
            rounds,
            warmup,
            corpus=corpus if score else None,
            recorded=recorded_f1(run),
            progress=progress,
            profile=profile,
        )
    if references:
        rows += reference_rows(references, corpus, tweets, paths, rounds, warmup, progress, profile)
    table = render_markdown(rows, machine_description(), tweets)
    click.echo(table)
    if markdown_out:
        atomic_write_text(markdown_out, table + "\n")
    if json_out:
        payload = {
            "machine": machine_description(),
            "corpus": str(corpus_name),
            "rows": [r.as_dict() for r in rows],
        }
        atomic_write_text(json_out, json.dumps(payload, indent=2))
