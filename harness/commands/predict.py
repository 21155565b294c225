"""``harness predict``: a saved model predicts a split, or any number of tweets.

Two forms. ``--data D --split S`` predicts one corpus split in memory and writes its
submission files (scored when the split has gold), as a shared task asks. ``--input
PATH...`` streams JSON Lines, CSV, TSV, Parquet or corpus splits of any size into
restartable part files (:mod:`harness.corpus_prediction`), in one process or on Ray
Data with ``--ray`` (:mod:`harness.ray_prediction`).
"""

from __future__ import annotations

import time
from pathlib import Path

import click
from click.core import ParameterSource

from core.datasets import resolve
from core.errors import HarnessError
from core.inference_paths import AUTO, ENGINES, PRECISIONS
from core.output_folders import check_output_folder, output_folder
from core.tweet_sources import Fields, expand_inputs
from harness import registry
from harness.commands.common import (
    all_types_option,
    choice_option,
    data_option,
    open_corpus,
    path_option,
    progress_option,
)
from harness.commands.path_listing import ListsInferencePaths
from harness.corpus_prediction import (
    BAD_ROWS_FILE,
    ON_BAD_ROW,
    PredictionJob,
    open_job_folder,
    run_job,
)
from harness.runner import check_predictions, score_written, summary_line, write_predictions
from submissions.span_rows import FORMATS, SPANS_FOLDER


@click.command("predict", cls=ListsInferencePaths)
@click.argument("model", type=click.Path(path_type=Path))
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="PATH",
    help="Tweets to predict, repeatable: .jsonl, .csv, .tsv (optionally .gz) or .parquet "
    "files, folders of them, or a corpus (zip, folder, 'sample', 'profner'; --split picks "
    "the split). Streams any size into --out/spans/ part files.",
)
@data_option()
@click.option("--split", default="test", show_default=True, help="Split of a corpus to predict.")
@path_option(
    "--out",
    required=True,
    help="Folder for the output: with --data, task7a.tsv, task7b.tsv, the CodaLab zips "
    "and brat.zip; with --input, spans/, bad_rows.jsonl and summary.json.",
)
@click.option("--id-field", default="id", show_default=True, help="--input: the id column/key.")
@click.option(
    "--text-field", default="text", show_default=True, help="--input: the text column/key."
)
@choice_option(
    "--format",
    FORMATS,
    dest="out_format",
    default="jsonl",
    help="--input: the part files' format (one row per span, tweet id, 7a label).",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(1),
    default=5000,
    show_default=True,
    help="--input: tweets per part file (a killed run loses at most one chunk of work).",
)
@choice_option(
    "--on-bad-row",
    ON_BAD_ROW,
    default="skip",
    help="--input: a row without text, undecodable, with a duplicate id or over 10,000 "
    "characters is counted and listed in bad_rows.jsonl (skip), or stops the job (fail).",
)
@click.option(
    "--submission",
    is_flag=True,
    help="--input: also write the submission files into --out/submission/ (holds every "
    "tweet in memory: meant for test and background sets).",
)
@click.option(
    "--ray",
    "ray_address",
    is_flag=False,
    flag_value="",
    default=None,
    metavar="[ADDRESS]",
    help="--input: run on Ray Data; alone, on a local Ray; with HOST:PORT, on that cluster "
    "(its nodes must see --input and --out; the model travels in Ray's object store). "
    "Give it after MODEL.",
)
@click.option(
    "--actors", type=click.IntRange(1), default=2, show_default=True, help="--ray: actors."
)
@click.option(
    "--cpus-per-actor",
    type=click.FloatRange(0, min_open=True),
    default=1.0,
    show_default=True,
    help="--ray: CPUs each actor holds (its torch threads).",
)
@click.option(
    "--gpus-per-actor",
    type=click.FloatRange(0),
    default=0.0,
    show_default=True,
    help="--ray: GPUs each actor holds (neural systems then predict on CUDA).",
)
@choice_option(
    "--precision",
    (*PRECISIONS, AUTO),
    default="fp32",
    help="CPU inference path: auto picks the fastest one that keeps F1 on this CPU "
    "(see 'harness bench') and says which.",
)
@choice_option(
    "--engine",
    ENGINES,
    default="torch",
    help="torch; onnxruntime (the 'onnx' extra); openvino (the 'openvino' extra). The "
    "paths each system has are listed at the end of this help.",
)
@all_types_option
@progress_option()
@click.option(
    "--force",
    is_flag=True,
    help="Replace --out if it holds files (only a folder a harness command made). With "
    "--input, rerunning the same command without it resumes a killed run.",
)
@click.pass_context
def command(
    ctx: click.Context,
    model: Path,
    inputs: tuple[str, ...],
    data: str,
    split: str,
    out: Path,
    id_field: str,
    text_field: str,
    out_format: str,
    chunk_size: int,
    on_bad_row: str,
    submission: bool,
    ray_address: str | None,
    actors: int,
    cpus_per_actor: float,
    gpus_per_actor: float,
    precision: str,
    engine: str,
    all_types: bool,
    progress: bool,
    force: bool,
) -> None:
    """Predict with a saved model (a run's model/ folder).

    With --data, predict one split and write its submission files: use it for the test
    or background set after 'harness run --train-on train+valid'. When the split has
    gold, the written files are also scored, exactly as 'harness score' would.

    With --input, predict any number of tweets with bounded memory into part files,
    one row per span (and one per tweet without any); rerun the same command after a
    kill and it goes on where it stopped.

    \b
    Example:
      harness predict runs/final/model --data profner_test.zip --split test --out preds/
      harness predict runs/rnn/model --input tweets.jsonl --precision auto --out spans/
      harness predict runs/rnn/model --ray --input tweets/ --format parquet --out spans/
    """
    if inputs:
        if ctx.get_parameter_source("data") is not ParameterSource.DEFAULT:
            raise HarnessError("give --input or --data, not both (a corpus can be an --input)")
        job = PredictionJob(
            model=model,
            inputs=tuple(expand_inputs(inputs)),
            fields=Fields(id=id_field, text=text_field),
            split=split,
            format=out_format,
            chunk_size=chunk_size,
            on_bad_row=on_bad_row,
            precision=precision,
            engine=engine,
            submission=submission,
        )
        _predict_inputs(
            job, out, ray_address, actors, cpus_per_actor, gpus_per_actor, progress, force
        )
        return
    if ray_address is not None:
        raise HarnessError("--ray predicts --input files; a --data split fits one process")
    _predict_split(model, data, split, out, precision, engine, all_types, progress, force)


def _predict_inputs(
    job: PredictionJob,
    out: Path,
    ray_address: str | None,
    actors: int,
    cpus_per_actor: float,
    gpus_per_actor: float,
    progress: bool,
    force: bool,
) -> None:
    if ray_address is not None:
        registry.load_saved(job.model)  # a model that cannot load fails here, not on workers
    resumed = open_job_folder(out, job, force=force, resumable=ray_address is None)
    if resumed:
        click.echo(f"resuming {out}: chunks already written are kept")
    if ray_address is not None:
        from harness.ray_prediction import predict_on_ray

        summary = predict_on_ray(
            job,
            out,
            address=ray_address or None,
            actors=actors,
            cpus_per_actor=cpus_per_actor,
            gpus_per_actor=gpus_per_actor,
            progress=progress,
        )
    else:
        system = registry.load_saved(job.model).use_precision(job.precision, job.engine)
        if job.precision == AUTO:
            click.echo(f"precision auto: {system.inference_path}")
        summary = run_job(system, job, out, progress=progress)
    for line in summary.lines():
        click.echo(line)
    click.echo(f"-> {out / SPANS_FOLDER}; bad rows in {out / BAD_ROWS_FILE}")


def _predict_split(
    model: Path,
    data: str,
    split: str,
    out: Path,
    precision: str,
    engine: str,
    all_types: bool,
    progress: bool,
    force: bool,
) -> None:
    inputs = [model, resolve(data)]
    check_output_folder(out, force=force, inputs=inputs)  # before the model is loaded
    system = registry.load_saved(model).use_precision(precision, engine)
    system.show_progress = progress
    if precision == AUTO:
        click.echo(f"precision auto: {system.inference_path}")
    corpus = open_corpus(data, all_types)
    chosen = corpus.split(split)
    started = time.perf_counter()
    predictions = system.predict(chosen.tweets)
    seconds = time.perf_counter() - started
    check_predictions(predictions, chosen.tweets, system.name, system.config.types)
    with output_folder(out, "predict", force=force, inputs=inputs) as work:
        write_predictions(work, predictions, chosen.tweets)  # old files stay until then
    click.echo(f"{split}: {len(predictions)} tweets predicted in {seconds:.1f} s -> {out}")
    if chosen.has_gold:
        click.echo(f"{split}: {summary_line(score_written(out, resolve(data), split))}")
