"""``harness predict``: a saved model predicts a split and writes its submission files."""

from __future__ import annotations

import time
from pathlib import Path

import click

from core.datasets import resolve
from core.inference_paths import AUTO, ENGINES, PRECISIONS
from core.output_folders import check_output_folder, output_folder
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
from harness.runner import check_predictions, score_written, summary_line, write_predictions


@click.command("predict", cls=ListsInferencePaths)
@click.argument("model", type=click.Path(path_type=Path))
@data_option()
@click.option("--split", default="test", show_default=True, help="Split to predict.")
@path_option(
    "--out", required=True, help="Folder for task7a.tsv, task7b.tsv, the CodaLab zips and brat.zip."
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
    help="Replace --out if it holds files (only a folder a harness command made).",
)
def command(
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
    """Predict a split with a saved model (a run's model/ folder) and write submissions.

    Use it for the test or background set after training the final model with
    'harness run --train-on train+valid'. When the split has gold, the written files
    are also scored, exactly as 'harness score' would.

    \b
    Example:
      harness predict runs/final/model --data profner_test.zip --split test --out preds/
      harness predict runs/rnn/model --data profner.zip --split valid --precision int8 --out p/
    """
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
