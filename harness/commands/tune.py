"""``harness tune``: hyperparameter optimisation with Ray Tune (TPE + ASHA), as the paper."""

from __future__ import annotations

import time
from pathlib import Path

import click

from core.system import parse_options
from harness.commands.common import (
    all_types_option,
    choice_option,
    data_option,
    path_option,
    progress_option,
    system_options_option,
)
from harness.tuning.study import StudySettings, run_study


@click.command("tune")
@click.option("--system", "system_name", required=True, help="Registered system to tune.")
@click.option("--trials", type=int, required=True, help="Number of trials to run.")
@choice_option(
    "--search",
    ["tpe", "random"],
    default="tpe",
    help="tpe: hyperopt's tree-structured Parzen estimator (the paper); random: random search.",
)
@choice_option(
    "--scheduler",
    ["asha", "none"],
    default="asha",
    help="asha: stop weak trials early on their per-epoch valid score (the paper); "
    "none: every trial runs all its epochs. Systems without epochs always use none.",
)
@choice_option(
    "--metric",
    ["7b_strict_f1", "7a_f1"],
    default="7b_strict_f1",
    help="Validation score to maximise (the paper: 7b).",
)
@data_option()
@path_option(
    "--out",
    help="Study folder [default: runs/tune-SYSTEM-YYYYmmdd-HHMMSS]. Run the same command "
    "with the same --out again to resume an interrupted study.",
)
@path_option(
    "--space",
    help="Search-space JSON file [default: the one shipped for the system, "
    "harness/search_spaces/SYSTEM.json].",
)
@system_options_option(
    "Fix a system option for every trial (overrides the search space), repeatable; "
    "e.g. -o epochs=5 for shorter trials."
)
@click.option(
    "--seed", type=int, default=13, show_default=True, help="Seed of every trial and the search."
)
@click.option(
    "--cpus-per-trial",
    type=float,
    default=1.0,
    show_default=True,
    help="CPUs per trial (and PyTorch threads).",
)
@click.option(
    "--gpus-per-trial",
    type=float,
    default=0.0,
    show_default=True,
    help="GPUs per trial; a fraction (0.5) shares a GPU between trials.",
)
@click.option(
    "--max-concurrent",
    type=int,
    default=0,
    show_default=True,
    help="Trials at once (0: as many as the resources allow).",
)
@click.option(
    "--grace-period",
    type=int,
    default=1,
    show_default=True,
    help="ASHA: epochs every trial runs before it can be stopped.",
)
@click.option(
    "--reduction-factor",
    type=float,
    default=4.0,
    show_default=True,
    help="ASHA: keep the best 1/FACTOR of the trials at each rung.",
)
@click.option(
    "--random-start",
    type=int,
    default=None,
    help="TPE: random trials before the estimator takes over "
    "[default: 20, or half the trials in studies of fewer than 40].",
)
@click.option(
    "--address",
    default=None,
    help="Run on an existing Ray cluster (HOST:PORT, ray://HOST:PORT or auto) instead "
    "of a local Ray; --out must then be storage every node can write.",
)
@click.option(
    "--time-budget",
    type=float,
    default=None,
    help="Stop the study after this many seconds: as many trials as fit (running ones "
    "are cut and marked so). [default: no limit]",
)
@all_types_option
@click.option("--force", is_flag=True, help="Delete the study in --out and start over.")
@progress_option("Show Ray Tune's progress.")
def command(
    system_name: str,
    trials: int,
    search: str,
    scheduler: str,
    metric: str,
    data: str,
    out: Path | None,
    space: Path | None,
    options: tuple[str, ...],
    seed: int,
    cpus_per_trial: float,
    gpus_per_trial: float,
    max_concurrent: int,
    grace_period: int,
    reduction_factor: float,
    random_start: int | None,
    address: str | None,
    time_budget: float | None,
    all_types: bool,
    force: bool,
    progress: bool,
) -> None:
    """Search a system's hyperparameters as the ProfNER winners did (Ray Tune, TPE, ASHA).

    Each trial trains the system on train with options sampled from the search space and
    reports valid F1 after every epoch, so ASHA can stop weak trials early. The study
    folder gets trials.csv (every trial), best_config.json (for 'harness run --config'),
    hyperparameters.png (each option against valid F1, stopped trials marked; the
    paper's Figure 1) and summary.json; Ray's own files stay inside it too.

    Search-space files are JSON: {"parameters": {"lr": {"loguniform": [5e-6, 1e-4]},
    "batch_size": {"choice": [8, 16]}, "warmup_steps": {"randint": [0, 200]}, ...}} with
    loguniform/uniform for float options, randint/lograndint (high excluded) for int
    options, choice for any, and plain values for fixed options.

    \b
    Examples:
      harness tune --system transformer --trials 50 --data profner
      harness tune --system rnn --trials 200 --data profner -o epochs=10
      harness tune --system rnn --trials 200 --address head-node:6379 --gpus-per-trial 0.5
    Then:
      harness seeds --config STUDY/best_config.json --seeds 5
      harness run --config STUDY/best_config.json --train-on train+valid
    """
    settings = StudySettings(
        system=system_name,
        trials=trials,
        search=search,
        scheduler=scheduler,
        metric=metric,
        data=data,
        seed=seed,
        all_types=all_types,
        options=parse_options(options),
        space=str(space) if space is not None else None,
        cpus_per_trial=cpus_per_trial,
        gpus_per_trial=gpus_per_trial,
        max_concurrent=max_concurrent,
        grace_period=grace_period,
        reduction_factor=reduction_factor,
        random_start=random_start,
        address=address,
        time_budget=time_budget,
    )
    folder = out or Path("runs") / f"tune-{system_name}-{time.strftime('%Y%m%d-%H%M%S')}"
    outcome = run_study(settings, folder, force=force, progress=progress)
    s = outcome.summary
    click.echo(f"study folder: {outcome.folder}{' (resumed)' if outcome.resumed else ''}")
    click.echo(
        f"trials: {s['trials']} ({s['completed']} completed, {s['stopped_early']} stopped "
        f"early by ASHA, {s['cut_by_time_budget']} cut by the time budget, {s['errors']} "
        f"failed); {s['epochs_trained']} epochs; "
        f"wall time {s['wall_seconds']:.0f} s"
    )
    best = s["best"]
    click.echo(
        f"best: trial {best['trial']}, {s['metric']} {best['value']:.4f} at epoch "
        f"{best['epoch']}; {', '.join(f'{k}={v}' for k, v in best['params'].items())}"
    )
    for name, path in s["files"].items():
        click.echo(f"{name}: {path}")
