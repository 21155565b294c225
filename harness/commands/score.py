"""``harness score``: score submission files exactly as the official CodaLab scorer did."""

from __future__ import annotations

import json
from pathlib import Path

import click

from core.errors import HarnessError
from eval import ScoreReport, format_table, official_lines, score
from eval.records import Note
from harness.commands.common import document_gold, open_gold
from submissions import read_system_output

#: Warnings shown without --all-warnings; the rest are counted.
SHOWN_WARNINGS = 10


def _echo_warnings(notes: list[Note], show_all: bool) -> None:
    """Every warning with --all-warnings; otherwise one line per kind of warning.

    A sloppy submission repeats the same mistake on dozens of rows (a misspelt type),
    so by default the first row of each (file, message) group is shown with a count.
    """
    if show_all:
        for note in notes:
            click.echo(f"harness: warning: {note}", err=True)
        return
    groups: dict[tuple[str, str], list[Note]] = {}
    for note in notes:
        groups.setdefault((note.source, note.message), []).append(note)
    for members in list(groups.values())[:SHOWN_WARNINGS]:
        more = f" (and {len(members) - 1} more like it)" if len(members) > 1 else ""
        click.echo(f"harness: warning: {members[0]}{more}", err=True)
    hidden = sum(len(members) for members in list(groups.values())[SHOWN_WARNINGS:])
    if hidden or len(groups) < len(notes):
        more = f"{hidden} more warning(s) not shown; " if hidden else ""
        click.echo(f"harness: warning: {more}--all-warnings lists every one", err=True)


def _echo_report(report: ScoreReport, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    click.echo(format_table(report))
    click.echo("\nOfficial scores.txt:")
    for line in official_lines(report):
        click.echo(line)


@click.command("score")
@click.argument("preds", type=click.Path(path_type=Path))
@click.argument("gold", type=click.Path(path_type=Path))
@click.option(
    "--split",
    default="valid",
    show_default=True,
    help="Split of the GOLD corpus to score against (unused for gold TSVs).",
)
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print one JSON object with every figure instead of the tables.",
)
@click.option(
    "--all-warnings",
    is_flag=True,
    help="Print every warning on its own line instead of one line per kind "
    f"(at most {SHOWN_WARNINGS} kinds).",
)
@document_gold
def command(preds: Path, gold: Path, split: str, as_json: bool, all_warnings: bool) -> None:
    """Score a ProfNER submission exactly as the official CodaLab scorer did.

    PREDS is a submission TSV, or a folder or zip holding the 7a and/or 7b TSVs
    (recognised by their header line, whatever their names), the CodaLab zips
    task7a.zip / task7b.zip, or brat .ann files named by tweet id.

    GOLD is {gold}.

    Rows are read like the official scorer reads them: malformed lines, tweets outside
    the split and types other than PROFESION and SITUACION_LABORAL are skipped, and
    duplicated rows count twice. Every skipped row is reported as a warning on stderr
    with its file and line. A tweet missing from the 7a file counts as label 0. 7b rows
    whose span is empty or outside its tweet are counted as written (the official
    scorer never read the texts), with one warning per file giving their number and
    the first line (when GOLD is a corpus: gold TSVs carry no texts). A 7b file with
    duplicated rows gets one warning saying how many, and the strict F1 without them
    (the official figure counts every copy). Each gold row dropped for a type that is
    neither evaluated nor ACTIVIDAD/FIGURATIVA (a typo, or PROFESION with an invisible
    character) is warned about: it changes the gold count.

    \b
    Task 7a (tweet classification): precision, recall and F1 of class 1.
    Task 7b (entity recognition), with TP/FP/FN, precision, recall and F1:
      strict         same type, begin and end (the ranking metric).
      relaxed        the OFFICIAL relaxed metric, bug-compatible: a prediction
                     matches a gold entity if it has the same type and starts
                     inside it, OR if it starts no later than the gold and its
                     end reaches the gold's start, whatever its type; bounds
                     inclusive; a gold entity adds one TP per matching prediction.
      relaxed_typed  ours: same type and at least one shared character, each
                     gold and each prediction in at most one TP (maximum
                     one-to-one matching). Not comparable with official figures.
      per_type       strict and relaxed_typed for each entity type.
    7b uses the official 1e-6 terms in P, R and F1; 7a uses exact ratios.

    Without --json the output ends with the lines of the official scores.txt
    (7a to 12 significant digits, 7b to 3 decimals).
    """
    gold_standard = open_gold(gold, split).require_gold()
    output = read_system_output(preds, gold_standard.tweet_ids, gold_standard.texts)
    report = score(gold_standard, output)
    _echo_warnings(report.warnings, all_warnings)
    if report.task7a is None and report.task7b is None:
        raise HarnessError(f"{preds}: nothing to score: the predictions and {gold} share no task")
    _echo_report(report, as_json)
