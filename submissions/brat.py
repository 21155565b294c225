"""Brat standoff (``.ann``) for predictions: writing one file per tweet and reading
them back leniently (every problem becomes a located note, not an exception), so the
scorer can skip a bad line the way it skips a bad TSV row and the validator can list
them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from core.display import shown
from core.tweets import Span
from eval.records import EntityTable, Note
from eval.tsv import entity_from_columns, numbered_lines, outside_text_notes, span_outside_text
from submissions.formats import tsv_safe


@dataclass(frozen=True)
class AnnRow:
    """One text-bound (``T``) annotation line, fields as written (not yet validated)."""

    line: int
    type: str
    begin: str
    end: str
    #: The mention column; ``None`` when the line has no third field.
    mention: str | None


def render_ann(spans: Iterable[Span], text: str) -> str:
    """The ``.ann`` content for one tweet: ``T1<TAB>TYPE BEGIN END<TAB>mention`` lines."""
    return "".join(
        f"T{number}\t{span.type} {span.begin} {span.end}\t{tsv_safe(text[span.begin : span.end])}\n"
        for number, span in enumerate(spans, start=1)
    )


def read_ann(text: str, where: str) -> tuple[list[AnnRow], list[Note]]:
    """Parse the ``T`` lines of an ``.ann`` file; other brat lines are ignored.

    Malformed and discontinuous (``B E;B E``) annotations cannot be scored as one span,
    so they come back as notes with their line number instead of rows.
    """
    rows: list[AnnRow] = []
    notes: list[Note] = []
    for number, raw in numbered_lines(text):
        line = raw.rstrip("\r")
        if not line.startswith("T"):
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            notes.append(Note(where, number, f"malformed brat line {line!r}"))
            continue
        if ";" in parts[1]:
            notes.append(Note(where, number, "discontinuous span; a TSV cannot express it"))
            continue
        head = parts[1].split()
        if len(head) != 3:
            notes.append(Note(where, number, f"expected 'TYPE BEGIN END', got {parts[1]!r}"))
            continue
        mention = "\t".join(parts[2:]) if len(parts) > 2 else None
        rows.append(AnnRow(number, head[0], head[1], head[2], mention))
    return rows, notes


def entities_from_ann(
    files: Iterable[tuple[str, str, str]],
    tweet_ids: Iterable[str],
    texts: Mapping[str, str] | None = None,
) -> tuple[EntityTable, list[Note]]:
    """An entity table from ``(tweet id, where, .ann text)`` triples.

    The same keep-rules as a 7b TSV row apply (evaluated types only, integer offsets),
    so a brat submission scores exactly like the equivalent TSV; with the tweets'
    ``texts``, spans outside them are reported as for a TSV, one note per file.
    """
    table: EntityTable = {tweet_id: [] for tweet_id in tweet_ids}
    notes: list[Note] = []
    for tweet_id, where, text in files:
        if tweet_id not in table:
            notes.append(
                Note(where, None, f"tweet {shown(tweet_id)} is not in the split; file skipped")
            )
            continue
        rows, row_notes = read_ann(text, where)
        notes += row_notes
        tweet_text = None if texts is None else texts.get(tweet_id)
        outside: list[int] = []
        for row in rows:
            entity, reason = entity_from_columns(row.begin, row.end, row.type)
            if reason is not None:
                notes.append(Note(where, row.line, reason))
            if entity is not None:
                table[tweet_id].append(entity)
                if tweet_text is not None and span_outside_text(entity, tweet_text):
                    outside.append(row.line)
        notes += outside_text_notes(where, outside)
    return table, notes
