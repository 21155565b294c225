"""Scoring for ProfNER, bug-compatible with the official CodaLab scorer.

Pure functions over plain data: no file access (see :mod:`submissions` for that) and no
machine-learning framework, so scoring starts fast and can judge predictions made by
any tool.

Entry points:

* :func:`score_predictions` -- in-memory predictions against a corpus split;
* :func:`parse_7a` / :func:`parse_7b` + :func:`score` -- TSV texts, read as the
  official scorer read them;
* :func:`official_lines` / :func:`format_table` / :meth:`ScoreReport.as_dict` --
  the official ``scores.txt`` lines, a readable table, the JSON shape.
"""

from eval.metrics import Metric, classification_metric, ner_metric
from eval.records import Entity, EntityTable, GoldStandard, LabelTable, Note, SystemOutput
from eval.report import NerScores, ScoreReport, format_table, official_lines, python2_str
from eval.scoring import (
    gold_from_split,
    output_from_predictions,
    score,
    score_7a,
    score_7b,
    score_predictions,
)
from eval.tsv import TASK_7A, TASK_7B, detect_task, listed_tweet_ids, parse_7a, parse_7b

__all__ = [
    "TASK_7A",
    "TASK_7B",
    "Entity",
    "EntityTable",
    "GoldStandard",
    "LabelTable",
    "Metric",
    "NerScores",
    "Note",
    "ScoreReport",
    "SystemOutput",
    "classification_metric",
    "detect_task",
    "format_table",
    "gold_from_split",
    "listed_tweet_ids",
    "ner_metric",
    "official_lines",
    "output_from_predictions",
    "parse_7a",
    "parse_7b",
    "python2_str",
    "score",
    "score_7a",
    "score_7b",
    "score_predictions",
]
