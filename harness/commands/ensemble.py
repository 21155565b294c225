"""``harness ensemble``: saved runs vote span by span into a new run folder."""

from __future__ import annotations

from pathlib import Path

import click

from harness.commands.common import path_option
from harness.ensemble import make_ensemble


@click.command("ensemble")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@path_option("--out", required=True, help="Run folder to create for the ensemble.")
@click.option(
    "--data",
    default=None,
    help="Corpus whose splits to vote [default: the one the runs recorded].",
)
@click.option(
    "--span-votes",
    type=int,
    default=0,
    show_default="a majority",
    help="Votes a span needs to be kept.",
)
@click.option(
    "--label-votes",
    type=int,
    default=0,
    show_default="a majority",
    help="Votes a tweet needs to be 7a-positive.",
)
@click.option("--force", is_flag=True, help="Replace --out if a harness command made it.")
def command(
    runs: tuple[Path, ...],
    out: Path,
    data: str | None,
    span_votes: int,
    label_votes: int,
    force: bool,
) -> None:
    """Combine run folders' predictions by span voting into a new run folder.

    A span (offsets and type) is kept when enough runs predicted it (by default more
    than half); kept spans that overlap go to the one with more votes, then the longer
    one. A tweet is 7a-positive when enough runs said so. The rule is fixed, never
    fitted on valid: choosing the thresholds by their valid score would make that score
    optimistic. The runs must share their corpus, entity types and --train-on.

    The folder is laid out as 'harness run' lays out its own; its model/ holds every
    member's model, so 'harness predict OUT/model' predicts new data with all of them.

    \b
    Examples:
      harness ensemble runs/rnn-s1 runs/rnn-s2 runs/transformer --out runs/ensemble
      harness predict runs/ensemble/model --data profner_test.zip --out preds/
    """
    folder = make_ensemble(
        runs,
        out,
        data=data,
        span_votes=span_votes,
        label_votes=label_votes,
        force=force,
        notify=click.echo,
    )
    click.echo(f"run folder: {folder} ({len(runs)} members)")
