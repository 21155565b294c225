"""``harness errors``'s outputs: a terminal table with examples, and one HTML page.

The page is self-contained (inline style, no script, every text escaped), so it can be
mailed or attached to a paper's supplement as it is.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from itertools import pairwise

from eval.errors import KINDS, Comparison, SpanError, error_counts, marked_text
from eval.records import Entity, EntityTable


def count_table(errors: Sequence[SpanError]) -> list[str]:
    """Lines of a markdown table: one row per entity type, one column per kind."""
    counts = error_counts(errors)
    lines = [
        "| type | " + " | ".join(KINDS) + " | all |",
        "|---|" + "---|" * (len(KINDS) + 1),
    ]
    for etype in sorted(counts):
        row = counts[etype]
        cells = " | ".join(str(row[k]) for k in KINDS)
        lines.append(f"| {etype} | {cells} | {sum(row.values())} |")
    total = [sum(c[k] for c in counts.values()) for k in KINDS]
    lines.append("| all | " + " | ".join(map(str, total)) + f" | {sum(total)} |")
    return lines


def _entity(entity: Entity | None, text: str) -> str:
    if entity is None:
        return "-"
    return f"{entity.type} {entity.begin}-{entity.end} {text[entity.begin : entity.end]!r}"


def example_lines(
    errors: Sequence[SpanError],
    texts: Mapping[str, str],
    gold: EntityTable,
    predicted: EntityTable,
    per_kind: int,
) -> list[str]:
    """Up to ``per_kind`` examples of each kind, each tweet marked: gold ``[...]``,
    predictions ``{...}``."""
    lines = []
    for kind in KINDS:
        chosen = [e for e in errors if e.kind == kind][:per_kind]
        if not chosen:
            continue
        lines.append(f"{kind}:")
        for error in chosen:
            text = texts.get(error.tweet_id, "")
            lines.append(
                f"  tweet {error.tweet_id}: predicted {_entity(error.predicted, text)}, "
                f"gold {_entity(error.gold, text)}"
            )
            marked = marked_text(
                text, gold.get(error.tweet_id, []), predicted.get(error.tweet_id, [])
            )
            lines.append("    " + " ".join(marked.split()))
    return lines


def _marked_html(text: str, gold: Sequence[Entity], predicted: Sequence[Entity]) -> str:
    """The tweet with gold spans underlined and predicted ones highlighted: cut at every
    span boundary, each piece marked by the kinds of span covering it (so partly
    overlapping spans need no crossing tags)."""
    cuts = sorted(
        {0, len(text), *(e.begin for e in (*gold, *predicted))}
        | {e.end for e in (*gold, *predicted)}
    )
    cuts = [c for c in cuts if 0 <= c <= len(text)]
    out = []
    for begin, end in pairwise(cuts):
        piece = html.escape(text[begin:end])
        classes = [
            name
            for name, entities in (("gold", gold), ("pred", predicted))
            if any(e.begin <= begin and end <= e.end for e in entities)
        ]
        out.append(f'<span class="{" ".join(classes)}">{piece}</span>' if classes else piece)
    return "".join(out)


def html_page(
    title: str,
    errors: Sequence[SpanError],
    texts: Mapping[str, str],
    gold: EntityTable,
    predicted: EntityTable,
    comparison: Comparison | None = None,
) -> str:
    """The whole report as one HTML page: counts, then every error with its tweet."""
    counts = error_counts(errors)
    header = "".join(f"<th>{html.escape(k)}</th>" for k in KINDS)
    rows = "".join(
        f"<tr><td>{html.escape(t)}</td>"
        + "".join(f"<td>{counts[t][k]}</td>" for k in KINDS)
        + "</tr>"
        for t in sorted(counts)
    )

    def items(chosen: Sequence[SpanError]) -> str:
        parts = []
        for error in chosen:
            text = texts.get(error.tweet_id, "")
            tweet = _marked_html(
                text, gold.get(error.tweet_id, []), predicted.get(error.tweet_id, [])
            )
            what = html.escape(
                f"{error.kind}: predicted {_entity(error.predicted, text)}, "
                f"gold {_entity(error.gold, text)}"
            )
            parts.append(f"<li><b>{html.escape(error.tweet_id)}</b> {what}<br>{tweet}</li>")
        return "<ol>" + "".join(parts) + "</ol>"

    sections = "".join(
        f"<h2>{html.escape(kind)} ({sum(1 for e in errors if e.kind == kind)})</h2>"
        + items([e for e in errors if e.kind == kind])
        for kind in KINDS
    )
    if comparison is not None:
        sections += f"<h2>fixed by the second run ({len(comparison.fixed)})</h2>"
        sections += items(comparison.fixed)
        sections += f"<h2>new in the second run ({len(comparison.broken)})</h2>"
        sections += items(comparison.broken)
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"
        ".gold{text-decoration:underline 2px green}.pred{background:#fd8}"
        "li{margin:.4em 0}"
    )
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>"
        "<p>Gold spans underlined, predicted spans highlighted.</p>"
        f"<table><tr><th>type</th>{header}</tr>{rows}</table>{sections}</body></html>\n"
    )
