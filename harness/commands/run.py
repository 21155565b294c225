"""``harness run``: train a system and produce a complete, scored run folder."""

from __future__ import annotations

import json
from pathlib import Path

import click

from core.system import parse_options
from harness.commands.common import (
    all_types_option,
    choice_option,
    data_option,
    path_option,
    system_options_option,
)
from harness.runner import TRAIN_ON, RunSettings, read_config_file, run, summary_line


@click.command("run")
@click.option("--system", "system_name", help="Registered system to train (see 'harness systems').")
@data_option()
@path_option("--out", help="Run folder to create [default: runs/SYSTEM-YYYYmmdd-HHMMSS].")
@choice_option(
    "--train-on",
    TRAIN_ON,
    help="Train on train only (valid is then the held-out score) or on train+valid "
    "for the final model, as the ProfNER winners did.  [default: train]",
)
@click.option("--seed", type=int, default=None, help="Random seed.  [default: 13]")
@system_options_option("A system option, repeatable; 'harness systems NAME' lists them.")
@path_option(
    "--config",
    "config_file",
    help="JSON file with the system and its options (a run's config.json or a "
    "tuned best configuration); command-line options override it.",
)
@all_types_option
@click.option("--force", is_flag=True, help="Replace the run folder if it exists.")
@click.option(
    "--progress/--no-progress",
    default=True,
    show_default=True,
    help="Show progress bars on long steps.",
)
def command(
    system_name: str | None,
    data: str,
    out: Path | None,
    train_on: str | None,
    seed: int | None,
    options: tuple[str, ...],
    config_file: Path | None,
    all_types: bool,
    force: bool,
    progress: bool,
) -> None:
    """Train a system, predict valid (and test when the corpus has it), score, package.

    The run folder holds config.json (enough to repeat the run), metrics.json (the scores
    of 'harness score --json' per split, timings, parameter count), predictions/SPLIT/
    (task7a.tsv, task7b.tsv, the CodaLab zips and a brat zip), model/ (the saved system)
    and run.log. It appears only when the run has finished.

    \b
    Examples:
      harness run --system lookup
      harness run --system lookup --data profner.zip -o min_precision=0.5
      harness run --config runs/best/config.json --train-on train+valid
    """
    from_file = read_config_file(config_file) if config_file else {}
    name = system_name or from_file.get("system")
    if not name:
        raise click.UsageError("give --system NAME or a --config file that names one")
    settings = RunSettings(
        system=name,
        data=data,
        train_on=train_on or from_file.get("train_on", "train"),
        seed=seed if seed is not None else int(from_file.get("seed", 13)),
        all_types=all_types,
        options={**from_file.get("options", {}), **parse_options(options)},
    )
    if system_name and from_file.get("system") not in (None, system_name):
        # options of another system would not fit this one
        settings.options = parse_options(options)
    folder = run(
        settings, out, force=force, progress=progress, notify=lambda line: click.echo(line)
    )
    metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
    click.echo(f"run folder: {folder}")
    for split, report in metrics["scores"].items():
        click.echo(f"{split}: {summary_line(report)}")
