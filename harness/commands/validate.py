"""``harness validate``: list every problem of a submission before it is uploaded."""

from __future__ import annotations

from pathlib import Path

import click

from harness.commands.common import document_gold, open_gold
from submissions import validate
from submissions.validation import skipped_checks


@click.command("validate")
@click.argument("preds", type=click.Path(path_type=Path))
@click.option(
    "--gold",
    required=True,
    type=click.Path(path_type=Path),
    help="The tweets the submission is for, as GOLD of 'harness score': a corpus "
    "(zip, folder, 'sample', 'profner') or a folder or zip of gold TSVs.",
)
@click.option(
    "--split",
    default="valid",
    show_default=True,
    help="The split of a --gold corpus the submission is for; it needs texts, not gold "
    "(unused for gold TSVs).",
)
@click.pass_context
@document_gold
def command(ctx: click.Context, preds: Path, gold: Path, split: str) -> None:
    """Check a submission against the tweets it is for, before uploading it.

    PREDS is what `harness score` accepts: a submission TSV, a folder or zip of TSVs
    (recognised by header), CodaLab zips, or brat .ann files named by tweet id.

    GOLD is what `harness score` accepts: {gold}. Gold TSVs carry no tweet texts, so
    against them the checks that need the texts are skipped, and a line says which.

    Prints one line per problem, `FILE:LINE: error|warning: message`, then a summary.

    \b
    Errors (they change the score or break the upload):
      wrong column count, non-integer offsets, spans outside the text,
      extraction != text[begin:end], unknown types (e.g. 'SITUACION LABORAL'),
      tweets not in the split, 7a labels other than 0/1, 7a tweets missing or
      listed twice, duplicated 7b rows (the official scorer counts every copy),
      several files for one task.
    Warnings (harmless to the score, probably unintended):
      rows of types that are not evaluated (ACTIVIDAD, FIGURATIVA), header
      spelling, empty lines, zip members outside the zip (../), gold rows the
      gold reader dropped for an unknown type.

    \b
    Examples:
      harness validate preds/ --gold profner.zip             # the valid split
      harness validate preds/task7b.zip --gold sample --split train
      harness validate preds/ --gold gold/                   # a folder of gold TSVs

    Exit status: 1 when there is any error, 0 otherwise.
    """
    reference = open_gold(gold, split)
    problems = validate(preds, reference)
    for problem in problems:
        click.echo(str(problem))
    skipped = skipped_checks(reference)
    if skipped is not None:
        click.echo(f"{gold}: note: no tweet texts in gold TSVs; not checked: {skipped}")
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    verdict = "not valid" if errors else "valid"
    click.echo(
        f"{preds}: {verdict}: {errors} error(s), {warnings} warning(s) "
        f"against {reference.name} ({len(reference.tweet_ids)} tweets)"
    )
    ctx.exit(1 if errors else 0)
