"""``harness validate``: list every problem of a submission before it is uploaded."""

from __future__ import annotations

from pathlib import Path

import click

from core.corpus import load_corpus
from core.datasets import resolve
from submissions import validate


@click.command("validate")
@click.argument("preds", type=click.Path(path_type=Path))
@click.option(
    "--gold",
    "corpus",
    required=True,
    type=click.Path(path_type=Path),
    help="The ProfNER corpus holding the split's tweet texts: a zip or folder, or "
    "'sample' / 'profner' as for --data elsewhere.",
)
@click.option(
    "--split",
    default="valid",
    show_default=True,
    help="The split the submission is for; it needs texts, not gold.",
)
@click.pass_context
def command(ctx: click.Context, preds: Path, corpus: Path, split: str) -> None:
    """Check a submission against the tweets it is for, before uploading it.

    PREDS is what `harness score` accepts: a submission TSV, a folder or zip of TSVs
    (recognised by header), CodaLab zips, or brat .ann files named by tweet id.

    Prints one line per problem, `FILE:LINE: error|warning: message`, then a summary.

    \b
    Errors (they cost points or break the upload):
      wrong column count, non-integer offsets, spans outside the text,
      extraction != text[begin:end], unknown types (e.g. 'SITUACION LABORAL'),
      tweets not in the split, 7a labels other than 0/1, 7a tweets missing or
      listed twice, several files for one task.
    Warnings (harmless to the score, probably unintended):
      rows of types that are not evaluated (ACTIVIDAD, FIGURATIVA), duplicated
      rows (the official scorer counts them twice), header spelling, empty lines.

    Exit status: 1 when there is any error, 0 otherwise.
    """
    corpus_path = corpus if corpus.exists() else resolve(str(corpus))
    tweets = load_corpus(corpus_path, splits=[split]).split(split)
    problems = validate(preds, tweets)
    for problem in problems:
        click.echo(str(problem))
    errors = sum(p.severity == "error" for p in problems)
    warnings = len(problems) - errors
    verdict = "not valid" if errors else "valid"
    click.echo(
        f"{preds}: {verdict}: {errors} error(s), {warnings} warning(s) "
        f"against split '{split}' ({len(tweets)} tweets)"
    )
    ctx.exit(1 if errors else 0)
