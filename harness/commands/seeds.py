"""``harness seeds``: run one configuration with K seeds and report mean, std, best seed."""

from __future__ import annotations

import time
from pathlib import Path

import click

from core.system import parse_options
from harness.commands.common import (
    all_types_option,
    data_option,
    path_option,
    progress_option,
    system_options_option,
)
from harness.runner import RunSettings, read_config_file
from harness.tuning.seeds import run_seeds, seed_list


@click.command("seeds")
@path_option(
    "--config",
    "config_file",
    required=True,
    help="JSON file with the system and its options: a study's best_config.json or a "
    "run's config.json.",
)
@click.option("--seeds", "count", type=int, required=True, help="Number of seeds (K).")
@click.option(
    "--first-seed", type=int, default=1, show_default=True, help="Seeds are FIRST ... FIRST+K-1."
)
@data_option()
@path_option(
    "--out",
    help="Sweep folder [default: runs/seeds-SYSTEM-YYYYmmdd-HHMMSS]; seeds already run "
    "there are reused, so the same command resumes a sweep.",
)
@system_options_option("Override an option of the configuration, repeatable.")
@all_types_option
@progress_option("Show progress bars.")
def command(
    config_file: Path,
    count: int,
    first_seed: int,
    data: str,
    out: Path | None,
    options: tuple[str, ...],
    all_types: bool,
    progress: bool,
) -> None:
    """Train one configuration with K seeds on train and compare their valid scores.

    The paper's step between the study and the final model: how much does the seed
    alone move valid 7b strict F1, and which seed is best? Each seed is a full run
    folder (OUT/seed-N); OUT/seeds.json has every score, the mean, the sample standard
    deviation and the best seed, and OUT/best_config.json is the configuration with
    that seed, ready for the final model.

    \b
    Example:
      harness seeds --config runs/tune-rnn/best_config.json --seeds 5 --data profner
      harness run --config OUT/best_config.json --train-on train+valid --data profner
    """

    from_file = read_config_file(config_file)
    if not from_file.get("system"):
        raise click.UsageError(f"{config_file}: names no system")
    base = RunSettings(
        system=from_file["system"],
        data=data,
        train_on="train",
        all_types=all_types,
        options={**from_file.get("options", {}), **parse_options(options)},
    )
    seeds = seed_list(count, first_seed)
    folder = out or Path("runs") / f"seeds-{base.system}-{time.strftime('%Y%m%d-%H%M%S')}"

    def show(result, reused: bool) -> None:
        seven_a = "" if result.valid_7a_f1 is None else f", 7a F1 {result.valid_7a_f1:.4f}"
        note = " (already run)" if reused else ""
        click.echo(
            f"seed {result.seed}: 7b strict F1 {result.valid_7b_strict_f1:.4f}{seven_a}{note}"
        )

    summary = run_seeds(base, seeds, folder, progress=progress, on_seed=show)
    click.echo(
        f"7b strict F1 over {len(seeds)} seeds: mean {summary['mean']:.4f}, "
        f"std {summary['std']:.4f}, min {summary['min']:.4f}, max {summary['max']:.4f}"
    )
    click.echo(f"best seed: {summary['best_seed']}; config: {folder / 'best_config.json'}")
    click.echo(f"sweep folder: {folder}")
