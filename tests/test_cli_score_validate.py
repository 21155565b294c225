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


@pytest.fixture
def clean_preds(tmp_path):
    """PREDICTIONS without the duplicated row: nothing that changes the score."""
    first = PREDICTIONS[0]
    deduplicated = Prediction(first.tweet_id, first.label, tuple(dict.fromkeys(first.spans)))
    return write_submission(tmp_path / "preds", [deduplicated, *PREDICTIONS[1:]], TINY_TEXTS)


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


def test_validate_submission_with_only_warnings_exits_0(corpus, clean_preds):
    result = run("validate", clean_preds["7a"].parent, "--gold", corpus)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().split("\n")
    tsv = clean_preds["7b"]
    assert lines[0] == (
        f"{tsv}:5: warning: type ACTIVIDAD is not evaluated; the official scorer ignores the row"
    )
    # brat.zip carries the same predictions: the problem shows up there too
    assert sum("type ACTIVIDAD is not evaluated" in line for line in lines) == 2
    assert lines[-1] == (
        f"{clean_preds['7a'].parent}: valid: 0 error(s), 2 warning(s) against split 'valid' "
        "(3 tweets)"
    )


def test_validate_calls_duplicate_rows_errors(corpus, preds):
    """The official scorer counts every copy of a row, so a duplicate changes the score:
    an error, in the TSV and in brat.zip alike, not a harmless warning."""
    result = run("validate", preds["7a"].parent, "--gold", corpus)
    assert result.exit_code == 1, result.output
    lines = result.stdout.strip().split("\n")
    tsv = preds["7b"]
    assert lines[0] == (
        f"{tsv}:3: error: duplicate of line 2; the official scorer counts every copy, so the "
        "score misleads"
    )
    assert sum(": error: duplicate of line" in line for line in lines) == 2
    assert lines[-1] == (
        f"{preds['7a'].parent}: not valid: 2 error(s), 2 warning(s) against split 'valid' "
        "(3 tweets)"
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


def test_validate_gold_must_be_a_corpus_or_gold_tsvs(tmp_path, preds):
    (tmp_path / "empty").mkdir()
    result = run("validate", preds["7a"], "--gold", tmp_path / "empty")
    assert result.exit_code == 2
    assert result.stderr == (
        f"harness: error: {tmp_path / 'empty'}: neither a ProfNER corpus (no txt-files/ "
        "folder) nor gold TSVs (a 7a or 7b TSV starting with its header)\n"
    )


def gold_tsvs(corpus, folder):
    """The valid gold of the ``corpus`` zip as a folder of gold TSVs (no texts)."""
    folder.mkdir()
    with zipfile.ZipFile(corpus) as archive:
        (folder / "a.tsv").write_bytes(archive.read("profner/subtask-1/valid.tsv"))
        (folder / "b.tsv").write_bytes(archive.read("profner/subtask-2/tsv/valid.tsv"))
    return folder


#: A 7b file with one error of each kind: two need the texts, two do not.
BAD_7B = [
    HEADER_7B,
    "100	9	16	PROFESION	médicos",  # 2 fine
    "100	9	99	PROFESION	x",  # 3 outside the text (needs the text)
    "100	9	15	PROFESION	médicos",  # 4 extraction differs (needs the text)
    "100	16	9	PROFESION	x",  # 5 empty span
    "999	0	4	PROFESION	Soy ",  # 6 tweet not in the gold
]


def test_validate_against_a_folder_of_gold_tsvs_skips_only_the_text_checks(corpus, tmp_path):
    gold = gold_tsvs(corpus, tmp_path / "gold")
    path = write_lines(tmp_path / "p" / "task7b.tsv", BAD_7B)
    against_tsvs = run("validate", tmp_path / "p", "--gold", gold)
    assert against_tsvs.exit_code == 1, against_tsvs.output
    assert against_tsvs.stdout.splitlines() == [
        f"{path}:5: error: span 16-9 is empty",
        f"{path}:6: error: tweet '999' is not in the gold TSVs in {gold}",
        f"{gold}: note: no tweet texts in gold TSVs; not checked: span inside the tweet's "
        "text, extraction (brat: mention) equal to the text",
        f"{tmp_path / 'p'}: not valid: 2 error(s), 0 warning(s) against the gold TSVs in "
        f"{gold} (3 tweets)",
    ]
    against_corpus = run("validate", tmp_path / "p", "--gold", corpus)
    assert against_corpus.exit_code == 1
    lines = against_corpus.stdout.splitlines()
    assert [line.split(": error: ")[0] for line in lines[:-1]] == [
        f"{path}:{n}" for n in (3, 4, 5, 6)
    ]
    assert "note:" not in against_corpus.stdout
    assert lines[-1].endswith("4 error(s), 0 warning(s) against split 'valid' (3 tweets)")


def test_validate_and_score_accept_the_same_gold(corpus, clean_preds, tmp_path):
    gold = gold_tsvs(corpus, tmp_path / "gold")
    zipped = zip_folder(gold, tmp_path / "gold.zip")
    for form in (corpus, gold, zipped):
        assert run("score", clean_preds["7b"], form).exit_code == 0, form
        result = run("validate", clean_preds["7b"], "--gold", form)
        assert result.exit_code == 0, (form, result.output)
        assert result.stdout.splitlines()[-1].endswith("(3 tweets)")


def test_validate_help_examples_run_as_written(corpus, clean_preds, tmp_path, monkeypatch):
    """The examples are copied out of --help, so the help cannot drift from the code."""
    help_text = run("validate", "--help").stdout
    examples = [
        line.split("#")[0].split()[1:]
        for line in help_text.splitlines()
        if line.strip().startswith("harness validate")
    ]
    assert len(examples) == 3
    monkeypatch.chdir(tmp_path)
    corpus.rename("profner.zip")  # the name the examples use, in the working folder
    gold_tsvs(tmp_path / "profner.zip", tmp_path / "gold")
    outcomes = {}
    for example in examples:
        result = run(*example)
        assert result.exit_code in (0, 1), (example, result.output)  # validated, not refused
        outcomes[example[-1]] = result
    assert outcomes["profner.zip"].exit_code == 0
    assert "against split 'train' (" in outcomes["train"].stdout.splitlines()[-1]
    assert "note: no tweet texts in gold TSVs" in outcomes["gold/"].stdout


# --- spans outside the tweet: counted as CodaLab did, but said -----------------------

#: Three counted rows whose span is not inside its tweet (lines 3, 5, 6), one fine row
#: per tweet, and a row of a type that is not evaluated (not counted, so not reported).
OUTSIDE_7B = [
    HEADER_7B,
    "100\t9\t16\tPROFESION\tmédicos",
    "100\t9\t99\tPROFESION\tx",  # 3 past the end, yet a relaxed TP (starts inside a gold)
    "200\t0\t11\tSITUACION_LABORAL\tSin trabajo",
    "200\t-3\t2\tPROFESION\tx",  # 5 negative begin
    "300\t6\t6\tSITUACION_LABORAL\t",  # 6 empty
    "300\t0\t900\tACTIVIDAD\tx",  # 7 not evaluated: dropped, never counted
]


def test_score_warns_once_per_file_about_spans_outside_the_tweet(corpus, tmp_path):
    path = write_lines(tmp_path / "p" / "task7b.tsv", OUTSIDE_7B)
    warning = (
        f"harness: warning: {path}: 3 row(s) with a span empty or outside the tweet's text, "
        "first at line 3; counted as written, as the official scorer did "
        "('harness validate' lists each)"
    )
    for flags in ((), ("--all-warnings",)):
        result = run("score", tmp_path / "p", corpus, "--json", *flags)
        assert result.exit_code == 0, result.output
        assert [line for line in result.stderr.splitlines() if "outside" in line] == [warning]
    # Counted exactly as before: gold TSVs carry no texts, so the same figures come
    # back without the warning, and the rows are false positives of the strict metric.
    figures = json.loads(result.stdout)["7b"]
    no_texts = run("score", tmp_path / "p", gold_tsvs(corpus, tmp_path / "gold"), "--json")
    assert json.loads(no_texts.stdout)["7b"] == figures
    assert "outside" not in no_texts.stderr
    assert (figures["strict"]["tp"], figures["strict"]["fp"]) == (2, 3)
    # the official relaxed rule matches lines 3 and 5 to gold starts all the same
    assert figures["relaxed"]["tp"] == 5


def test_score_says_nothing_when_every_span_is_inside(corpus, preds):
    result = run("score", preds["7a"].parent, corpus)
    assert result.exit_code == 0
    assert "outside" not in result.stderr


# --- a *.zip that is not a zip -------------------------------------------------------

NOT_ZIPS = {
    "text": lambda path: path.write_text("tweet_id\tlabel\n100\t1\n", encoding="utf-8"),
    "empty": lambda path: path.write_bytes(b""),
    # the first half of a real zip: the central directory at its end is gone
    "truncated": lambda path: path.write_bytes(
        (data := zip_folder(write_corpus(path.parent / "c", {"valid": {}}), path).read_bytes())[
            : len(data) // 2
        ]
    ),
}
#: Every place a command takes a path that may be a zip; {bad} is the bad file.
ZIP_POSITIONS = {
    "score PREDS": ("score", "{bad}", "{corpus}"),
    "score GOLD": ("score", "{preds}", "{bad}"),
    "validate PREDS": ("validate", "{bad}", "--gold", "{corpus}"),
    "validate --gold": ("validate", "{preds}", "--gold", "{bad}"),
    "data CORPUS": ("data", "{bad}"),
    "run --data": ("run", "--system", "lookup", "--data", "{bad}", "--out", "{out}"),
    "seeds --data": (
        "seeds",
        "--config",
        "{config}",
        "--seeds",
        "2",
        "--data",
        "{bad}",
        "--out",
        "{out}",
    ),
    "bench --data": ("bench", "--data", "{bad}"),
    "vectors --corpus": ("vectors", "train", "--corpus", "{bad}", "--out", "{out}"),
}


@pytest.mark.parametrize("kind", NOT_ZIPS)
@pytest.mark.parametrize("position", ZIP_POSITIONS)
def test_a_zip_that_is_not_one_says_so_wherever_it_is_given(
    corpus, preds, tmp_path, position, kind
):
    bad = tmp_path / "bad" / "task7a.zip"
    bad.parent.mkdir()
    NOT_ZIPS[kind](bad)
    config = tmp_path / "config.json"
    config.write_text('{"system": "lookup"}', encoding="utf-8")
    values = {
        "bad": bad,
        "corpus": corpus,
        "preds": preds["7a"].parent,
        "out": tmp_path / "o",
        "config": config,
    }
    result = run(*(arg.format(**values) for arg in ZIP_POSITIONS[position]))
    assert result.exit_code == 2, result.output
    assert result.stderr == f"harness: error: {bad}: not a zip file\n"


def test_a_bad_zip_inside_a_submission_folder_is_located(corpus, preds, tmp_path):
    folder = preds["7b"].parent
    (folder / "task7a.zip").write_bytes(b"not a zip")
    scored = run("score", folder, corpus)
    assert scored.exit_code == 2
    assert scored.stderr == f"harness: error: {folder / 'task7a.zip'}: not a zip file\n"
    validated = run("validate", folder, "--gold", corpus)
    assert validated.exit_code == 1
    assert f"{folder / 'task7a.zip'}: error: not a zip file" in validated.stdout.splitlines()


def test_duplicate_rows_of_unevaluated_types_are_no_error(corpus, clean_preds):
    """The official scorer drops ACTIVIDAD rows before counting: a copy changes nothing."""
    tsv = clean_preds["7b"]
    tweet_id, text = next(iter(TINY_TEXTS.items()))
    word = text.split()[0]
    row = f"{tweet_id}\t0\t{len(word)}\tACTIVIDAD\t{word}\n"
    tsv.write_text(tsv.read_text(encoding="utf-8") + row + row, encoding="utf-8")
    result = run("validate", tsv, "--gold", corpus)
    assert "duplicate of line" not in result.output, result.output
    assert "type ACTIVIDAD is not evaluated" in result.output
