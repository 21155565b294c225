"""The scorer on small hand-built cases: matching rules, counting, arithmetic, reading."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import HarnessError
from core.tweets import Prediction, Span
from eval import (
    Entity,
    GoldStandard,
    SystemOutput,
    classification_metric,
    format_table,
    gold_from_split,
    ner_metric,
    official_lines,
    parse_7a,
    parse_7b,
    python2_str,
    score,
    score_7a,
    score_7b,
    score_predictions,
)
from eval.matching import maximum_matching, typed_overlap
from submissions import render_7a_tsv, render_7b_tsv
from tests.helpers import HEADER_7A, HEADER_7B, TINY_TEXTS, make_split, predict, tiny_split

P, S = "PROFESION", "SITUACION_LABORAL"
REPO = Path(__file__).resolve().parents[1]


def counts(metric):
    return metric.tp, metric.fp, metric.fn


def ner(gold: list[Entity], pred: list[Entity]):
    """Score one tweet's entities."""
    return score_7b({"t": gold}, {"t": pred}, ["t"])


# --- matching rules -------------------------------------------------------------------


def test_strict_needs_same_type_and_offsets():
    scores = ner([Entity(10, 20, P)], [Entity(10, 20, S), Entity(10, 21, P)])
    assert counts(scores.strict) == (0, 2, 1)
    scores = ner([Entity(10, 20, P)], [Entity(10, 20, P)])
    assert counts(scores.strict) == (1, 0, 0)


def test_relaxed_second_clause_ignores_the_type():
    # Starts before the gold and reaches it: matches although the type differs.
    scores = ner([Entity(10, 20, P)], [Entity(5, 12, S)])
    assert counts(scores.relaxed) == (1, 0, 0)
    assert counts(scores.strict) == (0, 1, 1)
    assert counts(scores.relaxed_typed) == (0, 1, 1)


def test_relaxed_first_clause_needs_the_type():
    # Starts inside the gold: only the typed first clause can match it.
    assert counts(ner([Entity(10, 20, P)], [Entity(12, 25, S)]).relaxed) == (0, 1, 1)
    assert counts(ner([Entity(10, 20, P)], [Entity(12, 25, P)]).relaxed) == (1, 0, 0)


def test_relaxed_bounds_are_inclusive_but_relaxed_typed_needs_a_shared_character():
    touching_after = ner([Entity(10, 20, P)], [Entity(20, 25, P)])
    assert counts(touching_after.relaxed) == (1, 0, 0)
    assert counts(touching_after.relaxed_typed) == (0, 1, 1)
    touching_before = ner([Entity(10, 20, P)], [Entity(5, 10, S)])
    assert counts(touching_before.relaxed) == (1, 0, 0)


def test_duplicated_predictions_count_twice_officially_once_in_relaxed_typed():
    scores = ner([Entity(0, 5, P)], [Entity(0, 5, P), Entity(0, 5, P)])
    assert counts(scores.strict) == (2, 0, 0)
    assert counts(scores.relaxed) == (2, 0, 0)
    assert counts(scores.relaxed_typed) == (1, 1, 0)


def test_duplicated_gold_is_two_entities():
    scores = ner([Entity(0, 5, P), Entity(0, 5, P)], [Entity(0, 5, P)])
    assert counts(scores.strict) == (2, 0, 0)
    assert counts(scores.relaxed_typed) == (1, 0, 1)


def test_one_gold_can_collect_several_official_true_positives():
    scores = ner([Entity(0, 20, P)], [Entity(0, 5, P), Entity(6, 12, P)])
    assert counts(scores.relaxed) == (2, 0, 0)
    assert counts(scores.relaxed_typed) == (1, 1, 0)


def test_relaxed_typed_uses_a_maximum_matching_not_a_greedy_one():
    golds = [Entity(0, 10, P), Entity(10, 20, P)]
    preds = [Entity(5, 15, P), Entity(0, 3, P)]  # greedy would give the first gold p0
    assert maximum_matching(golds, preds, typed_overlap) == 2
    assert counts(ner(golds, preds).relaxed_typed) == (2, 0, 0)


def test_per_type_breakdown_sums_to_the_typed_metrics():
    gold = [Entity(0, 5, P), Entity(10, 20, S), Entity(30, 40, S)]
    pred = [Entity(0, 5, P), Entity(12, 18, S), Entity(50, 55, P)]
    scores = ner(gold, pred)
    assert set(scores.per_type) == {P, S}
    assert counts(scores.per_type[P]["strict"]) == (1, 1, 0)
    assert counts(scores.per_type[S]["strict"]) == (0, 1, 2)
    assert counts(scores.per_type[S]["relaxed_typed"]) == (1, 0, 1)
    for name in ("strict", "relaxed_typed"):
        per_type = [counts(m[name]) for m in scores.per_type.values()]
        summed = tuple(sum(column) for column in zip(*per_type, strict=True))
        assert summed == counts(scores.metric(name))


def test_tweets_are_matched_separately():
    scores = score_7b(
        {"a": [Entity(0, 5, P)], "b": []}, {"a": [], "b": [Entity(0, 5, P)]}, ["a", "b"]
    )
    assert counts(scores.strict) == (0, 1, 1)
    assert (scores.gold_entities, scores.predicted_entities) == (1, 1)


# --- arithmetic and formatting --------------------------------------------------------


def test_ner_metric_uses_the_official_epsilons():
    metric = ner_metric(1, 1, 0)
    assert metric.precision == 1 / (2 + 1e-6)
    assert metric.recall == 1 / (1 + 1e-6)
    expected_f1 = 2 * metric.precision * metric.recall / (metric.precision + metric.recall + 1e-6)
    assert metric.f1 == expected_f1
    assert ner_metric(0, 0, 0).f1 == 0.0


def test_classification_metric_is_exact():
    metric = classification_metric(418, 26, 59)
    assert python2_str(metric.f1) == "0.907709011944"
    assert python2_str(metric.recall) == "0.876310272537"
    assert classification_metric(0, 0, 5).f1 == 0.0


def test_python2_str_matches_python2_float_printing():
    assert python2_str(0.9035639413001) == "0.9035639413"
    assert python2_str(1.0) == "1.0"
    assert python2_str(0.0) == "0.0"
    assert python2_str(2 / 3) == "0.666666666667"


def test_7a_counts_missing_tweets_as_negative_and_warns():
    gold = GoldStandard("gold", ("a", "b", "c", "d"), labels={"a": 1, "b": 1, "c": 0, "d": 0})
    output = SystemOutput("pred", labels={"a": 1, "c": 1}, entities=None)
    report = score(gold, output)
    assert counts(report.task7a) == (1, 1, 1)
    assert report.task7b is None
    assert any(
        "2 tweet(s) of the split have no 7a prediction" in n.message for n in report.warnings
    )
    assert score_7a({"a": 1}, {}, ["a"]).fn == 1


def test_official_lines_order_and_spacing():
    report = score(
        GoldStandard(
            "g", ("a", "b"), labels={"a": 1, "b": 0}, entities={"a": [Entity(0, 3, P)], "b": []}
        ),
        SystemOutput("p", labels={"a": 1, "b": 1}, entities={"a": [Entity(0, 3, P)], "b": []}),
    )
    assert official_lines(report) == [
        "Task7aF: 0.666666666667",
        "Task7aP: 0.5",
        "Task7aR: 1.0",
        "Task7bRelaxedF:1.000",
        "Task7bRelaxedP:1.000",
        "Task7bRelaxedR:1.000",
        "Task7bStrictF:1.000",
        "Task7bStrictP:1.000",
        "Task7bStrictR:1.000",
    ]
    table = format_table(report)
    assert "relaxed (official, bug-compatible)" in table and "relaxed_typed" in table


def test_report_dict_has_exactly_the_documented_shape():
    report = score_predictions(
        [predict("100", [(9, 16, P)]), predict("200", []), predict("300", [])], tiny_split()
    )
    shape = report.as_dict()
    metric_keys = {"tp", "fp", "fn", "precision", "recall", "f1"}
    assert set(shape) == {"7a", "7b"}
    assert set(shape["7a"]) == metric_keys
    assert set(shape["7b"]) == {"strict", "relaxed", "relaxed_typed", "per_type"}
    for name in ("strict", "relaxed", "relaxed_typed"):
        assert set(shape["7b"][name]) == metric_keys
    assert set(shape["7b"]["per_type"]) == {P, S}
    for per_type in shape["7b"]["per_type"].values():
        assert set(per_type) == {"strict", "relaxed_typed"}
        assert all(set(m) == metric_keys for m in per_type.values())


def test_a_task_without_gold_is_absent_and_reported():
    gold = GoldStandard("g", ("a",), labels=None, entities={"a": []})
    report = score(gold, SystemOutput("p", labels={"a": 1}, entities={"a": []}))
    assert set(report.as_dict()) == {"7b"}
    assert any("7a predictions not scored" in n.message for n in report.warnings)


# --- official-compatible reading ------------------------------------------------------


def test_parse_7b_skips_and_warns_with_line_numbers():
    text = (
        "\n".join(
            [
                HEADER_7B,  # 1 header: skipped silently
                "a\t0\t3\tPROFESION\tabc",  # 2 kept
                "a\t0\t3\tPROFESION",  # 3 four fields
                "zzz\t0\t3\tPROFESION\tabc",  # 4 unknown tweet
                "a\t4\t9\tSITUACION LABORAL\tdefgh",  # 5 typo'd type
                "a\t4\t9\tACTIVIDAD\tdefgh",  # 6 not evaluated
                "b\t-\t-\t-\t-",  # 7 no-entity row: silent
                "a\tx\t3\tPROFESION\tabc",  # 8 non-integer offset
                "  a \t 0\t3 \t PROFESION\r",  # 9 four fields, a CR is no fifth
                "a\t0\t3\tPROFESION\tabc",  # 10 duplicate: kept
                "",  # 11 empty line
                " b \t 1 \t 2 \t SITUACION_LABORAL \t x\r",  # 12 stripped fields, CRLF
            ]
        )
        + "\n"
    )
    table, notes = parse_7b(text, "pred.tsv", ["a", "b", "c"])
    assert table == {
        "a": [Entity(0, 3, P), Entity(0, 3, P)],
        "b": [Entity(1, 2, S)],
        "c": [],
    }
    by_line = {n.line: n.message for n in notes}
    assert sorted(by_line) == [3, 4, 5, 6, 8, 9, 11]
    assert "expected 5 tab-separated fields, got 4" in by_line[3]
    assert "tweet zzz is not in the split" in by_line[4]
    assert "did you mean SITUACION_LABORAL?" in by_line[5]
    assert "'ACTIVIDAD' is not evaluated" in by_line[6]
    assert "offsets must be integers" in by_line[8]
    assert by_line[11] == "empty line skipped"
    assert str(notes[0]) == "pred.tsv:3: expected 5 tab-separated fields, got 4; line skipped"


def test_parse_7b_notes_spans_outside_the_text_once_and_counts_them_all():
    text = (
        "\n".join(
            [
                HEADER_7B,
                "a\t0\t3\tPROFESION\tabc",  # 2 inside
                "a\t2\t9\tPROFESION\tx",  # 3 past the end of "abcde"
                "b\t-\t-\t-\t-",  # 4 no-entity row
                "a\t4\t4\tPROFESION\t",  # 5 empty
                "a\t9\t12\tACTIVIDAD\tx",  # 6 not evaluated: dropped, not counted
                "b\t-1\t0\tSITUACION_LABORAL\tx",  # 7 before the start
                "c\t5\t99\tPROFESION\tx",  # 8 no text known for c: not judged
            ]
        )
        + "\n"
    )
    texts = {"a": "abcde", "b": "fghij"}
    table, notes = parse_7b(text, "pred.tsv", ["a", "b", "c"], texts)
    without_texts, other_notes = parse_7b(text, "pred.tsv", ["a", "b", "c"])
    assert table == without_texts  # the official count does not change
    assert table["a"] == [Entity(0, 3, P), Entity(2, 9, P), Entity(4, 4, P)]
    assert notes[: len(other_notes)] == other_notes
    assert [str(n) for n in notes[len(other_notes) :]] == [
        "pred.tsv: 3 row(s) with a span empty or outside the tweet's text, first at line 3; "
        "counted as written, as the official scorer did ('harness validate' lists each)"
    ]
    inside, quiet = parse_7b(HEADER_7B + "\na\t0\t5\tPROFESION\tabcde\n", "f", ["a"], texts)
    assert inside == {"a": [Entity(0, 5, P)]} and quiet == []


def test_gold_from_split_keeps_the_texts_for_the_warnings():
    gold = gold_from_split(tiny_split())
    assert gold.texts == TINY_TEXTS


def test_parse_7b_accepts_a_byte_order_mark():
    table, notes = parse_7b("\ufeff" + HEADER_7B + "\na\t0\t1\tPROFESION\tx\n", "f", ["a"])
    assert table == {"a": [Entity(0, 1, P)]} and notes == []


def test_parse_7a_rules():
    text = (
        "\n".join(
            [
                HEADER_7A,
                "a\t1",
                "b\t0",
                "c\tyes",
                "zzz\t1",
                "a\t0",
                "d",
                "e\t1\t0",
            ]
        )
        + "\n"
    )
    labels, notes = parse_7a(text, "7a.tsv", ["a", "b", "c", "d", "e"])
    assert labels == {"a": 0, "b": 0}
    by_line = {n.line: n.message for n in notes}
    assert sorted(by_line) == [4, 5, 6, 7, 8]
    assert "label must be 0 or 1, got 'yes'" in by_line[4]
    assert "not in the split" in by_line[5]
    assert "labelled again (first at line 2)" in by_line[6]


# --- in-memory predictions ------------------------------------------------------------


def _score_via_tsv(predictions: list[Prediction], split) -> dict:
    gold = gold_from_split(split)
    labels, notes_a = parse_7a(render_7a_tsv(predictions), "7a", gold.tweet_ids)
    texts = {t.id: t.text for t in split.tweets}
    entities, notes_b = parse_7b(render_7b_tsv(predictions, texts), "7b", gold.tweet_ids)
    return score(gold, SystemOutput("files", labels, entities, notes_a + notes_b)).as_dict()


def test_in_memory_scoring_equals_scoring_the_written_files():
    predictions = [
        # duplicate span, an off-by-one span, a non-evaluated type
        Prediction(
            "100", 1, (Span(9, 16, P), Span(9, 16, P), Span(19, 28, P), Span(0, 3, "ACTIVIDAD"))
        ),
        # wrong type for a gold span, plus a span crossing the newline
        Prediction("200", 0, (Span(0, 11, P), Span(4, 17, S))),
        predict("300", [(0, 4, S)]),
    ]
    split = tiny_split()
    in_memory = score_predictions(predictions, split)
    assert in_memory.as_dict() == _score_via_tsv(predictions, split)
    assert counts(in_memory.task7b.strict) == (2, 4, 3)


def test_in_memory_scoring_skips_unknown_tweets_with_a_warning():
    report = score_predictions(
        [predict("999", [(0, 1, P)]), *(predict(t, []) for t in TINY_TEXTS)], tiny_split()
    )
    assert any("tweet 999 is not in the split" in n.message for n in report.warnings)
    assert report.task7b.predicted_entities == 0


def test_scoring_needs_a_split_with_gold():
    with pytest.raises(HarnessError, match="no gold"):
        score_predictions([], make_split({"a": "x"}, gold=None))


def test_scoring_and_submissions_import_without_torch():
    code = (
        "import sys, eval, submissions, eval.scoring, submissions.writer, submissions.validation\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'transformers'))\n"
        "print(heavy)\n"
        "sys.exit(1 if heavy else 0)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
