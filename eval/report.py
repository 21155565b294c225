"""The result of a scoring run and its three renderings: a dict (for JSON), the
official ``scores.txt`` lines, and a table for people.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eval.metrics import Metric
from eval.records import Note

#: Names of the 7b metrics in reporting order; "relaxed" is the official one.
NER_METRICS = ("strict", "relaxed", "relaxed_typed")
#: The 7b metrics that decompose by type (the official relaxed rule ignores types).
PER_TYPE_METRICS = ("strict", "relaxed_typed")


@dataclass(frozen=True)
class NerScores:
    """Task 7b: the official strict and relaxed metrics, ours, and a per-type view."""

    strict: Metric
    relaxed: Metric
    relaxed_typed: Metric
    #: type -> {"strict": Metric, "relaxed_typed": Metric}
    per_type: dict[str, dict[str, Metric]]
    #: Entities counted on each side (the official log's "N annotations").
    gold_entities: int
    predicted_entities: int

    def metric(self, name: str) -> Metric:
        return {
            "strict": self.strict,
            "relaxed": self.relaxed,
            "relaxed_typed": self.relaxed_typed,
        }[name]

    def as_dict(self) -> dict[str, object]:
        result: dict[str, object] = {name: self.metric(name).as_dict() for name in NER_METRICS}
        result["per_type"] = {
            etype: {name: metrics[name].as_dict() for name in PER_TYPE_METRICS}
            for etype, metrics in self.per_type.items()
        }
        return result


@dataclass
class ScoreReport:
    """Scores of the sub-tasks that had both gold and predictions, plus warnings."""

    task7a: Metric | None = None
    task7b: NerScores | None = None
    warnings: list[Note] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """``{"7a": {...}, "7b": {...}}``; a sub-task that was not scored is absent."""
        result: dict[str, object] = {}
        if self.task7a is not None:
            result["7a"] = self.task7a.as_dict()
        if self.task7b is not None:
            result["7b"] = self.task7b.as_dict()
        return result


def python2_str(value: float) -> str:
    """``str(float)`` as Python 2 printed it (the 7a scorer's output): 12 significant
    digits, trailing zeros dropped, but ``.0`` kept on whole numbers."""
    text = f"{value:.12g}"
    if text.lstrip("-").isdigit():
        text += ".0"
    return text


def official_lines(report: ScoreReport) -> list[str]:
    """The lines of the official ``scores.txt`` files, 7a's first, in CodaLab's order.

    7a: ``Task7aF: 0.907709011944`` (note the space; Python 2 ``str``), then P and R.
    7b: ``Task7bRelaxedF:0.811`` (three decimals, no space), relaxed P and R, then the
    strict F, P and R.
    """
    lines = []
    if report.task7a is not None:
        m = report.task7a
        lines += [
            f"Task7a{key}: {python2_str(value)}"
            for key, value in (("F", m.f1), ("P", m.precision), ("R", m.recall))
        ]
    if report.task7b is not None:
        for label, m in (("Relaxed", report.task7b.relaxed), ("Strict", report.task7b.strict)):
            lines += [
                f"Task7b{label}{key}:{value:.3f}"
                for key, value in (("F", m.f1), ("P", m.precision), ("R", m.recall))
            ]
    return lines


#: The table's header; the first column holds the metric's name.
_HEADER = ("", "TP", "FP", "FN", "Precision", "Recall", "F1")
#: The narrowest each column is drawn (the widths of an everyday table); a column grows
#: past it to fit its widest cell with two blanks before it, so that counts in the
#: hundreds of millions (a submission repeating a row) never run into each other.
_MIN_WIDTHS = (34, 7, 7, 7, 11, 9, 9)
_GAP = 2
_DESCRIPTIONS = {
    "strict": "strict",
    "relaxed": "relaxed (official, bug-compatible)",
    "relaxed_typed": "relaxed_typed (one TP per gold)",
}


def _cells(name: str, m: Metric) -> tuple[str, ...]:
    return (
        name,
        str(m.tp),
        str(m.fp),
        str(m.fn),
        f"{m.precision:.4f}",
        f"{m.recall:.4f}",
        f"{m.f1:.4f}",
    )


def _render(rows: list[tuple[str, ...]], widths: list[int]) -> str:
    """One table line per row of cells: the name left-aligned, figures right-aligned."""
    lines = []
    for name, *figures in rows:
        cells = (cell.rjust(width) for cell, width in zip(figures, widths[1:], strict=True))
        lines.append("  " + name.ljust(widths[0]) + "".join(cells))
    return "\n".join(lines)


def format_table(report: ScoreReport) -> str:
    """A plain-text table of every figure of the report, four decimals.

    Column widths come from the data (never below :data:`_MIN_WIDTHS`), and one set of
    widths serves both sub-tasks, so their columns line up.
    """
    blocks: list[tuple[str, list[tuple[str, ...]]]] = []
    if report.task7a is not None:
        blocks.append(
            (
                "Task 7a: tweet classification (positive class)",
                [_HEADER, _cells("class 1", report.task7a)],
            )
        )
    if report.task7b is not None:
        ner = report.task7b
        rows = [_HEADER] + [_cells(_DESCRIPTIONS[name], ner.metric(name)) for name in NER_METRICS]
        for etype, metrics in ner.per_type.items():
            rows += [_cells(f"{etype} {name}", metrics[name]) for name in PER_TYPE_METRICS]
        title = (
            f"Task 7b: entity recognition ({ner.gold_entities} gold, "
            f"{ner.predicted_entities} predicted entities)"
        )
        blocks.append((title, rows))
    every_row = [row for _title, rows in blocks for row in rows]
    widths = [
        max([minimum] + [len(row[column]) + (_GAP if column else 0) for row in every_row])
        for column, minimum in enumerate(_MIN_WIDTHS)
    ]
    rendered = [f"{title}\n{_render(rows, widths)}" for title, rows in blocks]
    if not rendered:
        return "nothing scored"
    return "\n\n".join(rendered)
