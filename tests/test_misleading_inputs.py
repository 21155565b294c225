"""Issue 27, "Silent or misleading numbers": inputs that used to score, or pass, without a
word although the numbers (or the files made from them) were not what they seemed.

Each case asserts the exit code, the one line on stderr (an error without a traceback,
or the warning), and that the official figures are what the official scorer printed.
"""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.corpus import load_corpus
from core.display import shown
from core.errors import HarnessError
from core.tweets import Prediction, Span
from eval import Metric, NerScores, ScoreReport, format_table, score_predictions
from eval.metrics import ner_metric
from harness.cli import main
from submissions import write_submission
from tests.corpus_factory import write_corpus, zip_folder
from tests.helpers import HEADER_7A, HEADER_7B, TINY_GOLD, TINY_TEXTS, tiny_split, write_lines

P, S = "PROFESION", "SITUACION_LABORAL"


def run(*args: object):
    return CliRunner().invoke(main, [str(a) for a in args])


def tiny_tweets(extra: dict[str, list[tuple[int, int, str]]] | None = None):
    """The tiny split's tweets for :func:`write_corpus`, with ``extra`` gold spans."""
    return {
        tweet_id: (text, TINY_GOLD[tweet_id] + (extra or {}).get(tweet_id, []))
        for tweet_id, text in TINY_TEXTS.items()
    }


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    return zip_folder(
        write_corpus(tmp_path / "corpus", {"valid": tiny_tweets()}), tmp_path / "c.zip"
    )


def one_error_line(result, exit_code: int = 2) -> str:
    """The single ``harness: error:`` line of a failed command, checked for shape."""
    assert result.exit_code == exit_code, result.output
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("harness: error: ")
    assert "Traceback" not in result.output
    return result.stderr.strip()


def warnings_about(result, words: str) -> list[str]:
    return [line for line in result.stderr.splitlines() if words in line]


# --- 1. duplicated rows: the official figure stays, and is explained -----------------

COPIES = 20_000


def test_score_says_how_many_rows_are_duplicates_and_what_they_were_worth(corpus, tmp_path):
    """One correct row pasted 20,000 times scores strict F1 1.000, as on CodaLab; one
    warning line says so, with the strict F1 the rows are worth once each."""
    path = write_lines(
        tmp_path / "p" / "task7b.tsv",
        [HEADER_7B] + ["100\t9\t16\tPROFESION\tmédicos"] * COPIES,
    )
    warning = (
        f"harness: warning: {path}: {COPIES - 1} duplicate 7b row(s) (same tweet, offsets "
        "and type as an earlier row) counted again, as the official scorer did: strict F1 "
        "1.000, without them 0.400 ('harness validate' lists each)"
    )
    for flags in ((), ("--all-warnings",)):
        result = run("score", path, corpus, "--json", *flags)
        assert result.exit_code == 0, result.output
        assert warnings_about(result, "duplicate") == [warning]
    strict = json.loads(result.stdout)["7b"]["strict"]
    assert (strict["tp"], strict["fp"], strict["fn"]) == (COPIES, 0, 3)  # the official count
    assert f"{strict['f1']:.3f}" == "1.000"
    once = ner_metric(1, 0, 3)  # what the same predictions are worth without the copies
    assert f"{once.f1:.3f}" == "0.400"
    table = run("score", path, corpus)
    assert "Task7bStrictF:1.000" in table.stdout.splitlines()


def test_no_duplicate_warning_without_duplicates(corpus, tmp_path):
    path = write_lines(
        tmp_path / "p" / "task7b.tsv",
        [HEADER_7B, "100\t9\t16\tPROFESION\tmédicos", "100\t9\t16\tSITUACION_LABORAL\tmédicos"],
    )
    result = run("score", path, corpus)
    assert result.exit_code == 0, result.output
    assert "duplicate" not in result.stderr


def test_in_memory_predictions_get_the_same_duplicate_note():
    """``harness run`` scores its predictions in memory: the same note comes back."""
    spans = (Span(9, 16, P),) * 3
    report = score_predictions(
        [Prediction("100", 1, spans), Prediction("200", 0), Prediction("300", 0)], tiny_split()
    )
    assert report.task7b.strict.tp == 3  # official: every copy counted
    notes = [str(n) for n in report.warnings if "duplicate" in n.message]
    assert len(notes) == 1 and notes[0].startswith("predictions: 2 duplicate 7b row(s)")


# --- 2. the table stays readable at any count -----------------------------------------


def test_table_columns_never_run_together():
    big = Metric(101_000_000, 123_456_789, 7, 0.45, 1.0, 0.6)
    small = Metric(1, 2, 3, 0.3333, 0.25, 0.2857)
    ner = NerScores(
        strict=small,
        relaxed=small,
        relaxed_typed=big,
        per_type={
            P: {"strict": small, "relaxed_typed": big},
            S: {"strict": small, "relaxed_typed": small},
        },
        gold_entities=10,
        predicted_entities=224_456_789,
    )
    table = format_table(ScoreReport(task7a=small, task7b=ner))
    lines = [line for line in table.splitlines() if line.startswith("  ")]
    assert len({len(line) for line in lines}) == 1  # one set of widths, right-aligned
    for line in lines:
        figures = line.split()[-6:]
        assert all("  " + figure in line for figure in figures)  # two blanks before each
    typed = next(line for line in lines if line.startswith("  relaxed_typed"))
    assert typed.split()[-6:] == ["101000000", "123456789", "7", "0.4500", "1.0000", "0.6000"]


def test_an_everyday_table_keeps_its_layout():
    report = score_predictions(
        [Prediction("100", 1, (Span(9, 16, P),)), Prediction("200", 0), Prediction("300", 0)],
        tiny_split(),
    )
    lines = format_table(report).splitlines()
    assert lines[1] == "  " + "".ljust(34) + "".join(
        cell.rjust(width)
        for cell, width in zip(
            ("TP", "FP", "FN", "Precision", "Recall", "F1"), (7, 7, 7, 11, 9, 9), strict=True
        )
    )


# --- 3. gold rows dropped for an unknown type are said, one by one ---------------------

#: A gold row whose type hides a NUL, and one of ACTIVIDAD (known, dropped without a word).
ODD_GOLD = {"300": [(0, 4, "PROFESION\0"), (5, 8, "ACTIVIDAD")]}


@pytest.mark.parametrize("layout", ["tsv", "brat"])
def test_a_gold_row_of_an_invisibly_different_type_is_warned_about(tmp_path, layout):
    brat = layout == "brat"
    odd = write_corpus(
        tmp_path / "odd", {"valid": tiny_tweets(ODD_GOLD)}, with_tsv=not brat, with_brat=brat
    )
    plain = write_corpus(
        tmp_path / "plain", {"valid": tiny_tweets()}, with_tsv=not brat, with_brat=brat
    )
    preds = write_lines(
        tmp_path / "p" / "task7b.tsv", [HEADER_7B, "100\t9\t16\tPROFESION\tmédicos"]
    )
    result = run("score", preds, odd, "--json")
    assert result.exit_code == 0, result.output
    where = (
        odd / "profner/subtask-2/brat/valid/300.ann:1"
        if brat
        else odd / "profner/subtask-2/tsv/valid.tsv:6"
    )
    assert warnings_about(result, "gold") == [
        f"harness: warning: {where}: gold type 'PROFESION\\x00' is not evaluated (did you "
        "mean PROFESION? it differs by invisible characters); row dropped, so the gold count "
        "leaves it out"
    ]
    assert "ACTIVIDAD" not in result.stderr and "\0" not in result.stderr
    # the official figures: the row is not counted, exactly as the official scorer did
    assert json.loads(result.stdout) == json.loads(run("score", preds, plain, "--json").stdout)
    # validate reads the same gold and says the same; the submission itself is clean
    validated = run("validate", preds, "--gold", odd)
    assert validated.exit_code == 0, validated.output
    assert f"{where}: warning: gold type 'PROFESION\\x00' is not evaluated" in validated.stdout
    if not brat:  # harness data lists the dropped type, escaped
        listed = run("data", odd)
        assert "not evaluated, dropped: 'PROFESION\\x00'=1, ACTIVIDAD=1" in listed.stdout
        assert "\0" not in listed.stdout


def test_gold_tsvs_warn_about_unknown_types_but_not_about_actividad(tmp_path):
    gold = tmp_path / "gold"
    write_lines(
        gold / "7b.tsv",
        [
            HEADER_7B,
            "100\t9\t16\tPROFESION\tmédicos",
            "200\t0\t4\tACTIVIDAD\tSin ",  # known unevaluated type: dropped in silence
            "300\t0\t4\tPROFESION\u200b\tNada",  # a zero-width space: said
        ],
    )
    preds = write_lines(tmp_path / "p" / "task7b.tsv", [HEADER_7B, "100\t9\t16\tPROFESION\tx"])
    result = run("score", preds, gold, "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        f"harness: warning: {gold / '7b.tsv'}:4: type 'PROFESION\\u200b' is not evaluated "
        "(PROFESION, SITUACION_LABORAL) (did you mean PROFESION? it differs by invisible "
        "characters); row ignored"
    ]
    strict = json.loads(result.stdout)["7b"]["strict"]
    assert (strict["tp"], strict["fp"], strict["fn"]) == (1, 0, 0)


def test_the_corpus_keeps_the_dropped_rows_with_their_lines(tmp_path):
    write_corpus(tmp_path, {"valid": tiny_tweets(ODD_GOLD)})
    split = load_corpus(tmp_path).split("valid")
    assert split.dropped_types == {"PROFESION\0": 1, "ACTIVIDAD": 1}
    assert [(row.line, row.span.type) for row in split.unknown_type_rows] == [(6, "PROFESION\0")]
    everything = load_corpus(tmp_path, types=None).split("valid")
    assert everything.unknown_type_rows == []  # nothing dropped when every type is kept


# --- 4. a submission file under ../ in a zip ------------------------------------------


def test_a_7b_tsv_under_dotdot_in_a_zip_is_warned_about(tmp_path, corpus):
    archive = tmp_path / "sub.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("task7a.tsv", f"{HEADER_7A}\n100\t1\n200\t1\n300\t0\n")
        out.writestr("../task7b.tsv", f"{HEADER_7B}\n100\t9\t16\tPROFESION\tmédicos\n")
    warning = (
        f"{archive}:../task7b.tsv: its path leads out of the zip ('..' or absolute); "
        "ignored -- CodaLab reads the submission file at the zip root"
    )
    result = run("score", archive, corpus, "--json")
    assert result.exit_code == 0, result.output
    assert warnings_about(result, "..") == [f"harness: warning: {warning}"]
    assert set(json.loads(result.stdout)) == {"7a"}  # ignored, as before: nothing counted
    validated = run("validate", archive, "--gold", corpus)
    assert f"{warning.replace(': its', ': warning: its', 1)}" in validated.stdout.splitlines()


def test_a_zip_inside_a_folder_is_checked_too(tmp_path, corpus):
    folder = tmp_path / "p"
    folder.mkdir()
    with zipfile.ZipFile(folder / "task7b.zip", "w") as out:
        out.writestr("a/../../task7b.tsv", f"{HEADER_7B}\n100\t9\t16\tPROFESION\tmédicos\n")
    # nothing else to score: the one error line says what was ignored
    assert one_error_line(run("score", folder, corpus)) == (
        f"harness: error: {folder}: no submission found (a 7a or 7b TSV starting with its "
        "header, or brat .ann files named by tweet id); ignored: "
        f"{folder / 'task7b.zip'}:a/../../task7b.tsv: its path leads out of the zip ('..' or "
        "absolute); ignored -- CodaLab reads the submission file at the zip root"
    )


# --- 5. control characters in ids: refused on reading, escaped in messages -------------


@pytest.mark.parametrize("bad_id", ["10\t0", "10\n0", "\x1b[2J100", "100\u200b"])
@pytest.mark.parametrize("zipped", [False, True])
def test_a_tweet_file_whose_name_holds_a_control_character_is_refused(tmp_path, bad_id, zipped):
    tweets = tiny_tweets()
    tweets[bad_id] = ("Soy médico", [(4, 10, P)])
    corpus = write_corpus(tmp_path / "corpus", {"valid": tweets})
    if zipped:
        corpus = zip_folder(corpus, tmp_path / "c.zip")
    preds = write_lines(tmp_path / "p" / "task7b.tsv", [HEADER_7B, "100\t9\t16\tPROFESION\tx"])
    for args in (("score", preds, corpus), ("data", corpus), ("validate", preds, "--gold", corpus)):
        line = one_error_line(run(*args))
        assert f"tweet id {bad_id!r} holds a control character" in line, args
        assert "\x1b" not in line and "\u200b" not in line


def test_the_run_refuses_such_a_corpus_before_writing_anything(tmp_path):
    tweets = tiny_tweets()
    tweets["10\t0"] = ("Soy médico", [(4, 10, P)])
    corpus = write_corpus(tmp_path / "corpus", {"valid": tweets, "train": tweets})
    result = run("run", "--system", "lookup", "--data", corpus, "--out", tmp_path / "out")
    assert "tweet id '10\\t0' holds a control character" in one_error_line(result)
    assert not (tmp_path / "out").exists()


def test_the_writer_refuses_ids_that_would_corrupt_a_row(tmp_path):
    texts = {"1\t2": "Soy médico"}
    with pytest.raises(HarnessError, match=r"tweet id '1\\t2' holds a control character"):
        write_submission(tmp_path / "out", [Prediction("1\t2", 0)], texts)
    assert not (tmp_path / "out").exists()


def test_ids_in_prediction_files_are_escaped_in_messages(tmp_path, corpus):
    folder = tmp_path / "p"
    write_lines(folder / "task7b.tsv", [HEADER_7B, "\x1b[31m999\t0\t4\tPROFESION\tx"])
    (folder / "\x1b[2J.ann").write_text("T1\tPROFESION 0 4\tx\n", encoding="utf-8")
    result = run("score", folder, corpus, "--all-warnings")
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output
    assert (
        f"harness: warning: {folder / 'task7b.tsv'}:2: tweet '\\x1b[31m999' is not in the "
        "split; row skipped" in result.stderr.splitlines()
    )
    brat_only = tmp_path / "brat"
    brat_only.mkdir()
    (folder / "\x1b[2J.ann").rename(brat_only / "\x1b[2J.ann")
    brat = run("score", brat_only, corpus)
    assert brat.exit_code == 0, brat.output
    assert "\x1b" not in brat.output
    assert (
        f"harness: warning: {brat_only}/'\\x1b[2J.ann': tweet '\\x1b[2J' is not in the split; "
        "file skipped" in brat.stderr.splitlines()
    )


def test_gold_tsvs_with_a_control_character_in_an_id_are_refused(tmp_path):
    gold = write_lines(tmp_path / "gold" / "7a.tsv", [HEADER_7A, "100\t1", "2\x1b[0m00\t0"])
    preds = write_lines(tmp_path / "p" / "7a.tsv", [HEADER_7A, "100\t1"])
    line = one_error_line(run("score", preds, gold.parent))
    assert line == (
        f"harness: error: {gold}:3: tweet id '2\\x1b[0m00' holds a control character "
        "(U+001B); a submission TSV cannot carry it"
    )


def test_shown_leaves_ordinary_names_alone():
    assert shown("1245825577996529664") == "1245825577996529664"
    assert shown("médico 👩‍⚕️") != "médico 👩‍⚕️"  # the emoji's zero-width joiner is shown
    assert shown("a\tb") == "'a\\tb'"


# --- 6. symbolic links out of an input folder -------------------------------------------


def test_a_corpus_file_linked_out_of_the_corpus_is_refused(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", {"valid": tiny_tweets()})
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET first line", encoding="utf-8")
    link = corpus / "profner" / "txt-files" / "valid" / "400.txt"
    link.symlink_to(secret)
    preds = write_lines(tmp_path / "p" / "task7b.tsv", [HEADER_7B, "100\t9\t16\tPROFESION\tx"])
    for args in (("score", preds, corpus), ("data", corpus)):
        line = one_error_line(run(*args))
        assert line == (
            f"harness: error: {link}: a symbolic link out of {corpus} (to {secret}); refused, "
            "links must stay inside the folder"
        )
    out = tmp_path / "run"
    assert one_error_line(run("run", "--system", "lookup", "--data", corpus, "--out", out))
    assert not out.exists()  # nothing written, no brat.zip holding the secret


def test_a_prediction_file_linked_out_of_the_folder_is_refused(tmp_path, corpus):
    secret = tmp_path / "secret.tsv"
    secret.write_text("SECRET first line\n", encoding="utf-8")
    folder = tmp_path / "p"
    write_lines(folder / "task7b.tsv", [HEADER_7B, "100\t9\t16\tPROFESION\tmédicos"])
    (folder / "notes.tsv").symlink_to(secret)
    for args in (("score", folder, corpus), ("validate", folder, "--gold", corpus)):
        result = run(*args)
        line = one_error_line(result)
        assert line.startswith(f"harness: error: {folder / 'notes.tsv'}: a symbolic link out of")
        assert "SECRET" not in result.output


def test_links_that_stay_inside_the_folder_are_still_followed(tmp_path):
    corpus = write_corpus(tmp_path / "corpus", {"valid": tiny_tweets()})
    texts = corpus / "profner" / "txt-files" / "valid"
    kept = corpus / "profner" / "kept-100.txt"
    (texts / "100.txt").rename(kept)
    os.symlink(os.path.relpath(kept, texts), texts / "100.txt")
    preds = write_lines(tmp_path / "p" / "task7b.tsv", [HEADER_7B, "100\t9\t16\tPROFESION\tx"])
    linked = run("score", preds, corpus, "--json")
    assert linked.exit_code == 0, linked.output
    plain = write_corpus(tmp_path / "plain", {"valid": tiny_tweets()})
    assert json.loads(linked.stdout) == json.loads(run("score", preds, plain, "--json").stdout)
