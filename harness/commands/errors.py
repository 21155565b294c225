"""``harness errors``: a run's 7b errors by kind, with the tweets they happen in."""

from __future__ import annotations

from pathlib import Path

import click

from core.datasets import resolve
from core.errors import HarnessError
from core.fileio import atomic_write_text
from eval.errors import compare, span_errors
from harness.commands.common import path_option, run_corpus
from harness.error_report import count_table, example_lines, html_page
from submissions import load_reference, read_system_output


def _run_errors(run: Path, split: str, data: str | None):
    """(errors, gold table, predicted table, texts) of one run folder's split."""
    predictions = run / "predictions" / split
    if not predictions.is_dir():
        raise HarnessError(f"{run}: no predictions/{split}/ (a run folder of 'harness run'?)")
    corpus = data or run_corpus(run)
    if not corpus:
        raise HarnessError(f"{run}: its corpus is not recorded in config.json; give --data")
    reference = load_reference(resolve(str(corpus)), split)
    gold = reference.require_gold()
    if gold.entities is None or reference.texts is None:
        raise HarnessError(f"{corpus}: split {split!r} has no 7b gold with texts")
    output = read_system_output(predictions, gold.tweet_ids, reference.texts)
    if output.entities is None:
        raise HarnessError(f"{predictions}: no 7b predictions")
    errors = span_errors(gold.entities, output.entities)
    return errors, gold.entities, output.entities, reference.texts


@click.command("errors")
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--split", default="valid", show_default=True, help="Split with gold to read.")
@click.option("--data", default=None, help="Corpus of the gold [default: the run's own].")
@click.option(
    "--compare",
    "other",
    type=click.Path(path_type=Path),
    help="A second run folder: what it fixes and what it breaks against RUN.",
)
@click.option("--examples", default=3, show_default=True, help="Examples per kind in the terminal.")
@path_option("--html", "html_out", help="Also write every error as one self-contained HTML page.")
def command(
    run: Path,
    split: str,
    data: str | None,
    other: Path | None,
    examples: int,
    html_out: Path | None,
) -> None:
    """Sort a run's 7b errors by kind and show them in their tweets.

    Kinds: spurious (overlaps no gold), missed (no prediction overlaps it), too short,
    too long (right type, other boundaries) and wrong type. Prints the counts per
    entity type and kind, and examples in their tweets (gold [...], predicted {...}).

    \b
    Examples:
      harness errors runs/rnn --html errors.html
      harness errors runs/rnn --compare runs/transformer
    """
    errors, gold, predicted, texts = _run_errors(run, split, data)
    click.echo(f"{run} ({split}): {len(errors)} errors")
    click.echo("\n".join(count_table(errors)))
    click.echo("")
    click.echo("\n".join(example_lines(errors, texts, gold, predicted, examples)))
    comparison = None
    if other is not None:
        other_errors, _, _, _ = _run_errors(other, split, data)
        comparison = compare(errors, other_errors)
        click.echo("")
        click.echo(
            f"{other} against {run}: fixes {len(comparison.fixed)} errors, "
            f"makes {len(comparison.broken)} new ones"
        )
        for title, chosen in (("fixed", comparison.fixed), ("new", comparison.broken)):
            click.echo(f"{title}:")
            click.echo("\n".join(count_table(chosen)))
    if html_out is not None:
        page = html_page(f"{run} ({split}): 7b errors", errors, texts, gold, predicted, comparison)
        atomic_write_text(html_out, page)
        click.echo(f"wrote {html_out}")
