"""Ensembles: span voting on hand-made spans, the run folder ``harness ensemble`` makes,
prediction from its saved members, and the rule that valid gold cannot reach the vote."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from core.datasets import resolve
from core.errors import HarnessError
from core.tweets import Prediction, Span
from harness.cli import main
from systems.span_voting import VotingRule, majority, vote, vote_tweet

P, S = "PROFESION", "SITUACION_LABORAL"


def said(*spans: Span, label: int | None = None) -> Prediction:
    return Prediction.from_spans("t", spans, label)


def test_the_majority_rule_and_its_limits():
    assert [majority(n) for n in (2, 3, 4, 5)] == [2, 2, 3, 3]
    assert VotingRule.of(5) == VotingRule(5, 3, 3)
    assert VotingRule.of(3, span_votes=1) == VotingRule(3, 1, 2)
    with pytest.raises(HarnessError, match="at least 2 members"):
        VotingRule.of(1)
    with pytest.raises(HarnessError, match="span votes must be between 1 and 3"):
        VotingRule.of(3, span_votes=4)


def test_a_span_wins_with_enough_votes_and_a_member_votes_once():
    medico, enfermera = Span(0, 6, P), Span(10, 19, P)
    rule = VotingRule.of(3)
    voted = vote_tweet("t", [said(medico, enfermera), said(medico), said(Span(30, 35, S))], rule)
    assert voted.spans == (medico,) and voted.label == 1
    # the same span twice in one member's answer is still one vote
    twice = Prediction("t", 1, (enfermera, enfermera))
    assert vote_tweet("t", [twice, said(), said()], rule).spans == ()
    # the type is part of the span: the same offsets with two types are two candidates
    assert vote_tweet("t", [said(medico), said(Span(0, 6, S)), said()], rule).spans == ()


def test_overlaps_go_to_more_votes_then_the_longer_span():
    short, long_ = Span(3, 9, P), Span(3, 20, P)
    rule = VotingRule.of(4, span_votes=1)
    voted = vote_tweet("t", [said(short), said(short), said(long_), said()], rule)
    assert voted.spans == (short,)  # two votes beat one
    voted = vote_tweet("t", [said(short), said(short), said(long_), said(long_)], rule)
    assert voted.spans == (long_,)  # a tie in votes goes to the longer mention
    apart = Span(25, 30, S)
    voted = vote_tweet("t", [said(short, apart), said(long_), said(), said()], rule)
    assert voted.spans == (Span(3, 20, P), apart)  # what does not overlap stays


def test_labels_are_voted_on_their_own():
    rule = VotingRule.of(3)
    voted = vote_tweet("t", [said(label=1), said(label=1), said(Span(0, 3, P), label=0)], rule)
    assert voted.label == 1 and voted.spans == ()
    voted = vote_tweet("t", [said(label=1), said(label=0), said(label=0)], rule)
    assert voted.label == 0


def test_members_must_answer_the_same_tweets_in_order():
    rule = VotingRule.of(2)
    with pytest.raises(HarnessError, match="different numbers of tweets"):
        vote([[said()], []], rule)
    other = Prediction.from_spans("u", [])
    with pytest.raises(HarnessError, match="disagree on the tweet order"):
        vote([[said()], [other]], rule)


# -- the command ---------------------------------------------------------------------------


def invoke(*args: str):
    return CliRunner().invoke(main, [*args])


@pytest.fixture(scope="module")
def member_runs(tmp_path_factory):
    """Three lookup runs on the sample corpus that do not predict alike."""
    root = tmp_path_factory.mktemp("members")
    runs = []
    for name, options in (
        ("all", []),
        ("precise", ["-o", "min_precision=0.6"]),
        ("short", ["-o", "max_tokens=1"]),
    ):
        folder = root / name
        result = invoke(
            "run", "--system", "lookup", "--out", str(folder), "--no-progress", *options
        )
        assert result.exit_code == 0, result.output
        runs.append(folder)
    return runs


def tsv(folder, split="valid", task="task7b.tsv"):
    return (folder / "predictions" / split / task).read_text(encoding="utf-8")


def test_the_ensemble_is_a_scored_run_folder_of_voted_predictions(member_runs, tmp_path):
    out = tmp_path / "ensemble"
    result = invoke("ensemble", *map(str, member_runs), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "a span wins with 2 of 3 votes" in result.output
    assert "valid: 7a F1" in result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["system"] == "ensemble" and "valid" in metrics["scores"]
    config = json.loads((out / "config.json").read_text())
    assert config["settings"]["span_votes"] == 2
    assert [m["run"] for m in config["members"]] == [str(r.resolve()) for r in member_runs]
    # the rows are those the members' written rows vote for
    rows = [set(tsv(r).splitlines()[1:]) for r in member_runs]
    expected = {row for row in set().union(*rows) if sum(row in r for r in rows) >= 2}
    assert set(tsv(out).splitlines()[1:]) == expected
    assert len(set(map(frozenset, rows))) == 3, "the members should differ for this test"


def test_predicting_with_the_saved_ensemble_gives_the_voted_files(member_runs, tmp_path):
    out = tmp_path / "ensemble"
    assert invoke("ensemble", *map(str, member_runs), "--out", str(out)).exit_code == 0
    kept = tmp_path / "kept"
    for run in member_runs:  # the ensemble holds its members: deleting the runs is safe
        shutil.copytree(run, kept / run.name)
        shutil.rmtree(run)
    try:
        preds = tmp_path / "preds"
        args = ("predict", str(out / "model"), "--split", "valid", "--out", str(preds))
        result = invoke(*args, "--no-progress")
        assert result.exit_code == 0, result.output
        assert (preds / "task7b.tsv").read_text() == tsv(out)
        assert (preds / "task7a.tsv").read_text() == tsv(out, task="task7a.tsv")
        result = invoke(
            "predict",
            str(out / "model"),
            "--split",
            "valid",
            "--out",
            str(tmp_path / "p2"),
            "--precision",
            "auto",
            "--no-progress",
        )
        assert result.exit_code == 0 and "each member's own" in result.output
    finally:
        for run in member_runs:
            shutil.copytree(kept / run.name, run)


def test_valid_gold_cannot_reach_the_vote(member_runs, tmp_path):
    """The same runs voted against a corpus whose valid gold is emptied give the same
    predictions and settings; only the scores change."""
    emptied = tmp_path / "emptied"
    shutil.copytree(resolve("sample"), emptied)
    gold_7b = emptied / "profner" / "subtask-2"
    (gold_7b / "tsv" / "valid.tsv").write_text(
        (gold_7b / "tsv" / "valid.tsv").read_text().splitlines(keepends=True)[0]
    )
    for ann in (gold_7b / "brat" / "valid").glob("*.ann"):
        ann.write_text("")
    outs = []
    for data in ("sample", str(emptied)):
        out = tmp_path / f"ens-{len(outs)}"
        result = invoke("ensemble", *map(str, member_runs), "--out", str(out), "--data", data)
        assert result.exit_code == 0, result.output
        outs.append(out)
    first, second = (json.loads((o / "config.json").read_text())["settings"] for o in outs)
    assert (first["span_votes"], first["label_votes"]) == (
        second["span_votes"],
        second["label_votes"],
    )
    for task in ("task7a.tsv", "task7b.tsv"):
        assert tsv(outs[0], task=task) == tsv(outs[1], task=task)
    scores = [json.loads((o / "metrics.json").read_text())["scores"]["valid"] for o in outs]
    assert scores[0]["7b"]["strict"]["f1"] > 0 and scores[1]["7b"]["strict"]["tp"] == 0


def test_the_runs_must_agree_and_each_votes_once(member_runs, tmp_path):
    one, two, _ = map(str, member_runs)
    result = invoke("ensemble", one, one, "--out", str(tmp_path / "e"))
    assert result.exit_code == 2 and "named twice" in result.output
    result = invoke("ensemble", one, "--out", str(tmp_path / "e"))
    assert result.exit_code == 2 and "at least 2 members" in result.output
    result = invoke("ensemble", one, str(tmp_path), "--out", str(tmp_path / "e"))
    assert result.exit_code == 2 and "not a run folder (no config.json)" in result.output
    other = tmp_path / "final"
    shutil.copytree(two, other)
    config = json.loads((other / "config.json").read_text())
    config["settings"]["train_on"] = "train+valid"
    (other / "config.json").write_text(json.dumps(config))
    result = invoke("ensemble", one, str(other), "--out", str(tmp_path / "e"))
    assert result.exit_code == 2 and "the runs differ in --train-on" in result.output
    result = invoke("ensemble", one, two, "--span-votes", "3", "--out", str(tmp_path / "e"))
    assert result.exit_code == 2 and "span votes must be between 1 and 2" in result.output
    assert not (tmp_path / "e").exists()
    for line in (result.output,):
        assert "Traceback" not in line


def test_predictions_for_other_tweets_are_refused(member_runs, tmp_path):
    from tests.corpus_factory import write_corpus

    other = write_corpus(
        tmp_path / "other",
        {"train": {"1": ("el médico", [(3, 9, "PROFESION")])}, "valid": {"2": ("hola", [])}},
    )
    result = invoke(
        "ensemble", *map(str, member_runs), "--out", str(tmp_path / "e"), "--data", str(other)
    )
    assert result.exit_code == 2, result.output
    assert "not the predictions of split 'valid' of this corpus" in result.output
    assert not (tmp_path / "e").exists()


def test_an_ensemble_is_not_trained_by_run_and_a_broken_one_does_not_load(member_runs, tmp_path):
    result = invoke("run", "--system", "ensemble", "--out", str(tmp_path / "r"))
    assert result.exit_code == 2 and "not trained by 'harness run'" in result.output
    out = tmp_path / "ensemble"
    assert invoke("ensemble", *map(str, member_runs[:2]), "--out", str(out)).exit_code == 0
    shutil.rmtree(out / "model" / "members" / "1")
    result = invoke("predict", str(out / "model"), "--split", "valid", "--out", str(tmp_path / "p"))
    assert result.exit_code == 2 and "member model folder 'members/1' is missing" in result.output
