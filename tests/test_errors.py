"""``harness errors``: error kinds on hand-made spans, their counts, the comparison of two
runs, the marked tweets, and the command on a real run folder."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from eval.errors import (
    MISSED,
    SPURIOUS,
    TOO_LONG,
    TOO_SHORT,
    WRONG_TYPE,
    compare,
    error_counts,
    marked_text,
    span_errors,
    tweet_errors,
)
from eval.records import Entity
from harness.cli import main

P, S = "PROFESION", "SITUACION_LABORAL"


def kinds(gold, predicted):
    return [(e.kind, e.predicted, e.gold) for e in tweet_errors("t", gold, predicted)]


def test_each_kind_on_hand_made_spans():
    medico = Entity(10, 16, P)
    assert kinds([medico], [medico]) == []  # strict match: no error
    assert kinds([medico], [Entity(30, 35, P)]) == [
        (SPURIOUS, Entity(30, 35, P), None),
        (MISSED, None, medico),
    ]
    assert kinds([medico], [Entity(10, 13, P)]) == [(TOO_SHORT, Entity(10, 13, P), medico)]
    assert kinds([medico], [Entity(8, 20, P)]) == [(TOO_LONG, Entity(8, 20, P), medico)]
    assert kinds([medico], [Entity(12, 18, P)]) == [(TOO_LONG, Entity(12, 18, P), medico)]
    assert kinds([medico], [Entity(10, 16, S)]) == [(WRONG_TYPE, Entity(10, 16, S), medico)]
    # a wrong prediction over a gold entity takes the blame; the gold is not also missed
    assert [k for k, *_ in kinds([medico], [Entity(10, 12, S)])] == [WRONG_TYPE]
    # a right-type prediction is judged against the right-type gold it overlaps
    both = [Entity(0, 20, S), medico]
    assert kinds(both, [Entity(10, 14, P)]) == [(TOO_SHORT, Entity(10, 14, P), medico)]


def test_counts_per_type_and_the_comparison_of_two_runs():
    gold = {"a": [Entity(0, 5, P)], "b": [Entity(0, 4, S)], "c": []}
    first = span_errors(gold, {"a": [Entity(0, 3, P)], "b": [], "c": [Entity(1, 2, P)]})
    counts = error_counts(first)
    assert counts[P] == {TOO_SHORT: 1, SPURIOUS: 1} and counts[S] == {MISSED: 1}
    second = span_errors(gold, {"a": [Entity(0, 5, P)], "b": [Entity(0, 4, P)], "c": []})
    comparison = compare(first, second)
    assert {e.kind for e in comparison.fixed} == {TOO_SHORT, SPURIOUS, MISSED}
    assert [(e.kind, e.tweet_id) for e in comparison.broken] == [(WRONG_TYPE, "b")]


def test_tweets_are_marked_gold_then_prediction():
    text = "el médico de guardia"
    assert marked_text(text, [Entity(3, 9, P)], [Entity(3, 20, P)]) == ("el [{médico] de guardia}")
    assert marked_text(text, [], []) == text


@pytest.fixture(scope="module")
def lookup_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("errors") / "run"
    args = ["run", "--system", "lookup", "--out", str(folder), "--no-progress"]
    assert CliRunner().invoke(main, args).exit_code == 0
    return folder


def test_the_command_prints_counts_examples_and_writes_html(lookup_run, tmp_path):
    page = tmp_path / "errors.html"
    args = ["errors", str(lookup_run), "--compare", str(lookup_run), "--html", str(page)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "| type | spurious | missed | too short | too long | wrong type | all |" in result.output
    assert "fixes 0 errors, makes 0 new ones" in result.output
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert 'class="gold"' in html


def test_a_folder_without_predictions_is_one_line(tmp_path):
    result = CliRunner().invoke(main, ["errors", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip().endswith("no predictions/valid/ (a run folder of 'harness run'?)")


def test_partly_overlapping_spans_are_marked_without_crossing_tags():
    from harness.error_report import _marked_html

    text = "el comité de científicos del gobierno"
    marked = _marked_html(text, [Entity(13, 37, P)], [Entity(3, 24, P)])
    assert marked == (
        'el <span class="pred">comité de </span><span class="gold pred">científicos</span>'
        '<span class="gold"> del gobierno</span>'
    )
