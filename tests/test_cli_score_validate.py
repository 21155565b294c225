"""``harness score`` and ``harness validate`` through click, as a user runs them."""

from __future__ import annotations

import json
import zipfile

import pytest
from click.testing import CliRunner

from core.tweets import Prediction, Span
from eval import score_predictions
from harness.cli import main
from submissions import write_submission
from tests.corpus_factory import write_corpus, zip_folder
from tests.helpers import (
    HEADER_7A,
    HEADER_7B,
    TINY_GOLD,
    TINY_TEXTS,
    predict,
    tiny_split,
    write_lines,
)

P, S = "PROFESION", "SITUACION_LABORAL"


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def corpus(tmp_path):
    """The tiny split as a ProfNER-layout zip (valid) plus a train split."""
    tweets = {tid: (text, TINY_GOLD[tid]) for tid, text in TINY_TEXTS.items()}
    folder = write_corpus(
        tmp_path / "corpus", {"valid": tweets, "train": {"900": ("Soy médico", [(4, 10, P)])}}
    )
    return zip_folder(folder, tmp_path / "profner.zip")


PREDICTIONS = [
    # a duplicated span (the official scorer counts it twice) and an off-by-one end
    Prediction("100", 1, (Span(9, 16, P), Span(9, 16, P), Span(19, 28, P))),
    predict("200", [(0, 11, S)]),
    predict("300", [(0, 4, "ACTIVIDAD")]),
]


@pytest.fixture
def preds(tmp_path):
    return write_submission(tmp_path / "preds", PREDICTIONS, TINY_TEXTS)


def test_score_prints_tables_and_official_lines(corpus, preds):
    result = run("score", preds["7a"].parent, corpus)
    assert result.exit_code == 0, result.output
    assert "relaxed (official, bug-compatible)" in result.stdout
    expected = score_predictions(PREDICTIONS, tiny_split())
    lines = result.stdout.strip().split("\n")
    assert lines[-9] == f"Task7aF: {expected.task7a.f1:.12g}"
    assert lines[-6:] == [
        f"Task7bRelaxedF:{expected.task7b.relaxed.f1:.3f}",
        f"Task7bRelaxedP:{expected.task7b.relaxed.precision:.3f}",
        f"Task7bRelaxedR:{expected.task7b.relaxed.recall:.3f}",
        f"Task7bStrictF:{expected.task7b.strict.f1:.3f}",
        f"Task7bStrictP:{expected.task7b.strict.precision:.3f}",
        f"Task7bStrictR:{expected.task7b.strict.recall:.3f}",
    ]
    assert "type 'ACTIVIDAD' is not evaluated" in result.stderr


def test_score_json_is_one_object_with_the_documented_shape(corpus, preds):
    result = run("score", preds["7b_zip"], corpus, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"7b"}
    assert set(data["7b"]) == {"strict", "relaxed", "relaxed_typed", "per_type"}
    expected = score_predictions(PREDICTIONS, tiny_split()).as_dict()["7b"]
    assert data["7b"] == expected
    assert data["7b"]["strict"]["tp"] == 3
    assert "ACTIVIDAD" in result.stderr and "ACTIVIDAD" not in result.stdout


def test_score_against_gold_tsvs_matches_the_corpus(tmp_path, corpus, preds):
    gold = tmp_path / "gold"
    with zipfile.ZipFile(corpus) as archive:
        (gold).mkdir()
        (gold / "a.tsv").write_bytes(archive.read("profner/subtask-1/valid.tsv"))
        (gold / "b.tsv").write_bytes(archive.read("profner/subtask-2/tsv/valid.tsv"))
    from_corpus = json.loads(run("score", preds["7a"].parent, corpus, "--json").stdout)
    from_tsvs = run("score", preds["7a"].parent, gold, "--json")
    assert from_tsvs.exit_code == 0, from_tsvs.output
    assert json.loads(from_tsvs.stdout) == from_corpus
    (gold / "a.tsv").unlink()  # 7b gold alone: its rows, '-' rows included, list the tweets
    only_7b = run("score", preds["7a"].parent, gold, "--json")
    assert json.loads(only_7b.stdout) == {"7b": from_corpus["7b"]}
    assert "7a predictions not scored: no 7a gold" in only_7b.stderr


def test_score_split_option(corpus, tmp_path):
    write_lines(tmp_path / "p" / "t.tsv", [HEADER_7B, "900\t4\t10\tPROFESION\tmédico"])
    result = run("score", tmp_path / "p", corpus, "--split", "train", "--json")
    assert json.loads(result.stdout)["7b"]["strict"]["tp"] == 1
    missing = run("score", tmp_path / "p", corpus, "--split", "test")
    assert missing.exit_code == 2
    assert missing.stderr.startswith("harness: error: ") and "no split test" in missing.stderr


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: None, "no such file or folder"),
        (lambda d: (d.mkdir(), (d / "x.tsv").write_bytes(b"")), "x.tsv: empty file"),
        (
            lambda d: (d.mkdir(), (d / "x.tsv").write_bytes(HEADER_7A.encode() + b"\n100\t\xff\n")),
            "x.tsv:2: not valid UTF-8",
        ),
        (
            lambda d: (
                write_lines(d / "a.tsv", [HEADER_7A, "100\t1"]),
                write_lines(d / "b.tsv", [HEADER_7A, "100\t0"]),
            ),
            "two different task 7a submission files",
        ),
    ],
)
def test_score_errors_are_one_line_with_exit_2(tmp_path, corpus, make, message):
    target = tmp_path / "bad"
    make(target)
    result = run("score", target, corpus)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("harness: error: ")
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_warnings_are_grouped_unless_all_warnings(corpus, tmp_path):
    rows = [HEADER_7B] + [f"100\t{i}\t{i + 1}\tSITUACION LABORAL\tx" for i in range(5)]
    write_lines(tmp_path / "p" / "7b.tsv", rows)
    grouped = run("score", tmp_path / "p", corpus)
    assert grouped.exit_code == 0
    assert "(and 4 more like it)" in grouped.stderr
    assert grouped.stderr.count("SITUACION LABORAL") == 1
    every = run("score", tmp_path / "p", corpus, "--all-warnings")
    assert every.stderr.count("SITUACION LABORAL") == 5
    assert "7b.tsv:6:" in every.stderr


def test_two_identical_7b_files_in_a_zip_are_scored_once_with_a_warning(corpus, preds, tmp_path):
    data = preds["7b"].read_bytes()
    archive = tmp_path / "twice.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("task7b.tsv", data)
        out.writestr("copy/task7b.tsv", data)
    twice = run("score", archive, corpus, "--json")
    once = run("score", preds["7b"], corpus, "--json")
    assert twice.exit_code == once.exit_code == 0
    assert json.loads(twice.stdout) == json.loads(once.stdout)  # counted once, not twice
    warning = (
        f"harness: warning: {archive}: two identical task 7b submission files: "
        f"{archive}:copy/task7b.tsv and {archive}:task7b.tsv; scored once -- keep exactly one"
    )
    assert warning in twice.stderr.splitlines()
    assert "two identical task" not in once.stderr
    assert "Traceback" not in twice.output


def test_a_run_folder_with_its_codalab_zips_has_no_duplicate_warning(corpus, preds):
    result = run("score", preds["7b"].parent, corpus)  # task7b.tsv beside task7b.zip
    assert result.exit_code == 0
    assert "two identical task" not in result.stderr


def test_score_help_documents_the_metrics():
    result = run("score", "--help")
    assert result.exit_code == 0
    for words in (
        "bug-compatible",
        "relaxed_typed",
        "strict",
        "per_type",
        "--json",
        "counts as label 0",
    ):
        assert words in result.stdout


def test_validate_submission_with_only_warnings_exits_0(corpus, preds):
    result = run("validate", preds["7a"].parent, "--gold", corpus)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().split("\n")
    tsv = preds["7b"]
    assert lines[0] == f"{tsv}:3: warning: duplicate of line 2; the official scorer counts it twice"
    # brat.zip carries the same predictions: each problem shows up there too
    assert (
        f"{tsv}:6: warning: type ACTIVIDAD is not evaluated; the official scorer ignores "
        "the row" in lines
    )
    assert lines[-1] == (
        f"{preds['7a'].parent}: valid: 0 error(s), 4 warning(s) against split 'valid' (3 tweets)"
    )


def test_validate_errors_exit_1_with_located_lines(corpus, tmp_path):
    path = write_lines(
        tmp_path / "p" / "task7b.tsv", [HEADER_7B, "100\t9\t16\tSITUACION LABORAL\tmédicos"]
    )
    result = run("validate", tmp_path / "p", "--gold", corpus)
    assert result.exit_code == 1
    assert result.stdout.split("\n")[0] == (
        f"{path}:2: error: unknown type 'SITUACION LABORAL' (did you mean SITUACION_LABORAL?); "
        "the official scorer silently drops the row"
    )
    assert "not valid: 1 error(s), 0 warning(s)" in result.stdout


def test_validate_needs_a_corpus(tmp_path, preds):
    result = run("validate", preds["7a"], "--gold", tmp_path)
    assert result.exit_code == 2
    assert (
        result.stderr.startswith("harness: error: ")
        and "not a ProfNER-style corpus" in result.stderr
    )
