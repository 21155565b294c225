"""Submission files: writing, finding and reading them back, and validating them."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from core.datasets import SAMPLE_CORPUS
from core.errors import HarnessError
from core.tweets import Prediction, Span
from eval import Entity, gold_from_split, score, score_predictions
from submissions import (
    OUTPUT_KEYS,
    load_gold,
    load_reference,
    read_system_output,
    validate,
    write_submission,
)
from submissions.formats import tsv_safe
from submissions.validation import TEXT_CHECKS, skipped_checks
from tests.helpers import (
    HEADER_7A,
    HEADER_7B,
    TINY_TEXTS,
    predict,
    tiny_split,
    write_lines,
)

P, S = "PROFESION", "SITUACION_LABORAL"
IDS = tuple(TINY_TEXTS)


def tiny_predictions() -> list[Prediction]:
    return [
        predict("100", [(9, 16, P), (19, 29, P)]),
        # crosses the newline of tweet 200, and an emoji sits before the second span
        predict("200", [(4, 17, S), (26, 32, S)]),
        predict("300", []),
    ]


@pytest.fixture
def written(tmp_path) -> dict[str, Path]:
    return write_submission(tmp_path / "out", tiny_predictions(), TINY_TEXTS)


def zip_members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def make_zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


# --- writing --------------------------------------------------------------------------


def test_write_submission_writes_every_file(written):
    assert tuple(written) == OUTPUT_KEYS
    assert all(path.is_file() for path in written.values())
    assert zip_members(written["7a_zip"]) == {"task7a.tsv": written["7a"].read_bytes()}
    assert zip_members(written["7b_zip"]) == {"task7b.tsv": written["7b"].read_bytes()}
    brat = zip_members(written["brat_zip"])
    assert set(brat) == {f"{i}.{ext}" for i in IDS for ext in ("ann", "txt")}
    assert brat["200.txt"].decode("utf-8") == TINY_TEXTS["200"]
    assert brat["300.ann"] == b""


def test_tsvs_have_headers_exact_extractions_and_dash_rows(written):
    rows_7a = written["7a"].read_text(encoding="utf-8").split("\n")
    assert rows_7a == [HEADER_7A, "100\t1", "200\t1", "300\t0", ""]
    data_7b = written["7b"].read_bytes()
    assert b"\r" not in data_7b
    rows_7b = data_7b.decode("utf-8").split("\n")
    assert rows_7b[0] == HEADER_7B
    assert rows_7b[1] == "100\t9\t16\tPROFESION\tmédicos"
    # the newline inside the span becomes a space, so the row stays one line
    assert rows_7b[3] == f"200\t4\t17\tSITUACION_LABORAL\t{tsv_safe(TINY_TEXTS['200'][4:17])}"
    assert "\n" in TINY_TEXTS["200"][4:17]
    assert rows_7b[4] == "200\t26\t32\tSITUACION_LABORAL\tparado"
    assert rows_7b[5] == "300\t-\t-\t-\t-"


def test_writing_is_reproducible(tmp_path):
    first = write_submission(tmp_path / "a", tiny_predictions(), TINY_TEXTS)
    second = write_submission(tmp_path / "b", tiny_predictions(), TINY_TEXTS)
    for key in OUTPUT_KEYS:
        assert first[key].read_bytes() == second[key].read_bytes()


@pytest.mark.parametrize(
    ("predictions", "message"),
    [
        (tiny_predictions()[:2], r"1 tweet\(s\) have no prediction"),
        ([*tiny_predictions(), predict("999", [])], "tweet 999, which has no text"),
        ([*tiny_predictions(), predict("300", [])], "tweet 300 is predicted twice"),
        ([Prediction("100", 2), *tiny_predictions()[1:]], "label must be 0 or 1"),
        ([predict("100", [(30, 60, P)]), *tiny_predictions()[1:]], "ends after the text"),
    ],
)
def test_write_submission_refuses_invalid_predictions(tmp_path, predictions, message):
    with pytest.raises(HarnessError, match=message):
        write_submission(tmp_path / "out", predictions, TINY_TEXTS)
    assert not (tmp_path / "out" / "task7a.tsv").exists()


# --- reading back ---------------------------------------------------------------------


def test_round_trip_through_every_written_form(written):
    expected = {
        "100": [Entity(9, 16, P), Entity(19, 29, P)],
        "200": [Entity(4, 17, S), Entity(26, 32, S)],
        "300": [],
    }
    for key in ("7b", "7b_zip", "brat_zip"):
        output = read_system_output(written[key], IDS)
        assert output.entities == expected, key
    for key in ("7a", "7a_zip"):
        assert read_system_output(written[key], IDS).labels == {"100": 1, "200": 1, "300": 0}


def test_whole_output_folder_reads_once_and_scores_like_memory(written):
    folder = written["7a"].parent  # TSVs, zips and brat.zip, with the same content twice
    output = read_system_output(folder, IDS)
    assert output.labels is not None and output.entities is not None
    assert not any("brat" in n.message for n in output.notes)  # same content: no noise
    from_files = score(gold_from_split(tiny_split()), output).as_dict()
    assert from_files == score_predictions(tiny_predictions(), tiny_split()).as_dict()


def test_brat_files_that_disagree_with_the_tsv_are_reported(written, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "task7b.tsv").write_bytes(written["7b"].read_bytes())
    (folder / "100.ann").write_text("T1\tPROFESION 0 2\tEl\n", encoding="utf-8")
    output = read_system_output(folder, IDS)
    assert any("differ from the 7b TSV" in n.message for n in output.notes)


def test_files_are_recognised_by_header_not_name(tmp_path):
    write_lines(tmp_path / "whatever.txt", [HEADER_7B, "100\t9\t16\tPROFESION\tmédicos"])
    write_lines(tmp_path / "labels", [HEADER_7A, "100\t1"])
    write_lines(tmp_path / "notes.tsv", ["id\tscore", "100\t0.5"])
    output = read_system_output(tmp_path, IDS)
    assert output.entities["100"] == [Entity(9, 16, P)]
    assert output.labels == {"100": 1}
    assert any("notes.tsv:1: not a 7a or 7b submission" in str(n) for n in output.notes)


def test_nested_codalab_zips_in_a_folder_are_read(tmp_path, written):
    folder = tmp_path / "uploads"
    folder.mkdir()
    for key in ("7a_zip", "7b_zip"):
        (folder / written[key].name).write_bytes(written[key].read_bytes())
    output = read_system_output(folder, IDS)
    assert output.labels == {"100": 1, "200": 1, "300": 0}
    assert output.entities["200"] == [Entity(4, 17, S), Entity(26, 32, S)]


def test_two_different_tsvs_for_one_task_in_a_zip_is_an_error(tmp_path):
    archive = make_zip(
        tmp_path / "preds.zip",
        {
            "a.tsv": f"{HEADER_7B}\n100\t9\t16\tPROFESION\tmédicos\n",
            "b.tsv": f"{HEADER_7B}\n100\t19\t29\tPROFESION\tenfermeras\n",
        },
    )
    with pytest.raises(
        HarnessError,
        match=r"two different task 7b submission files: .*a\.tsv "
        r"and .*b\.tsv",
    ):
        read_system_output(archive, IDS)


def test_identical_copies_count_once_with_a_note_naming_both(tmp_path):
    for name in ("a.tsv", "copy/b.tsv"):
        write_lines(tmp_path / name, [HEADER_7B, "100\t9\t16\tPROFESION\tmédicos"])
    output = read_system_output(tmp_path, IDS)
    assert output.entities["100"] == [Entity(9, 16, P)]
    assert [str(n) for n in output.notes] == [
        f"{tmp_path}: two identical task 7b submission files: {tmp_path / 'a.tsv'} and "
        f"{tmp_path / 'copy' / 'b.tsv'}; scored once -- keep exactly one"
    ]
    found = [str(p) for p in validate(tmp_path, tiny_split())]
    assert any("warning: two identical task 7b submission files" in p for p in found)


def test_identical_copies_in_two_nested_zips_are_noted(tmp_path, written):
    folder = tmp_path / "uploads"
    folder.mkdir()
    for name in ("task7b.zip", "again.zip"):
        (folder / name).write_bytes(written["7b_zip"].read_bytes())
    output = read_system_output(folder, IDS)
    assert output.entities["200"] == [Entity(4, 17, S), Entity(26, 32, S)]
    assert [n.message.split(":")[0] for n in output.notes] == [
        "two identical task 7b submission files"
    ]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("task7b.tsv", b"", r"task7b\.tsv: empty file"),
        (
            "task7b.tsv",
            (HEADER_7B + "\n100\t1\t2\tPROFESION\t\xe9\n").encode("latin-1"),
            r"task7b\.tsv:2: not valid UTF-8",
        ),
        ("README.md", b"hello", "no submission found"),
    ],
)
def test_unusable_input_is_one_clear_error(tmp_path, name, data, message):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(HarnessError, match=message):
        read_system_output(tmp_path, IDS)


def test_missing_path_and_broken_nested_zip(tmp_path):
    with pytest.raises(HarnessError, match="no such file or folder"):
        read_system_output(tmp_path / "nope", IDS)
    (tmp_path / "task7b.zip").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(HarnessError, match=r"task7b\.zip: not a zip file$"):
        read_system_output(tmp_path, IDS)


def test_brat_predictions_score_like_the_tsv(tmp_path):
    (tmp_path / "100.ann").write_text(
        "T1\tPROFESION 9 16\tmédicos\n#1\tnote\nT2\tPROFESION 1 2;4 5\tx y\n", encoding="utf-8"
    )
    (tmp_path / "999.ann").write_text("T1\tPROFESION 0 1\tL\n", encoding="utf-8")
    output = read_system_output(tmp_path, IDS)
    assert output.entities == {"100": [Entity(9, 16, P)], "200": [], "300": []}
    assert output.labels is None
    messages = [str(n) for n in output.notes]
    assert any("100.ann:3: discontinuous span" in m for m in messages)
    assert any("tweet 999 is not in the split" in m for m in messages)


def test_gold_folder_of_tsvs(tmp_path):
    write_lines(
        tmp_path / "gold" / "7b.tsv",
        [HEADER_7B, "a\t0\t3\tPROFESION\tabc", "b\t-\t-\t-\t-", "a\t5\t6\tACTIVIDAD\tx"],
    )
    gold, split = load_gold(tmp_path / "gold")
    assert split is None
    assert gold.tweet_ids == ("a", "b") and gold.labels is None
    assert gold.entities == {"a": [Entity(0, 3, P)], "b": []}
    write_lines(tmp_path / "gold" / "7a.tsv", [HEADER_7A, "a\t1", "b\t0", "c\t0"])
    gold, _ = load_gold(tmp_path / "gold")
    assert gold.tweet_ids == ("a", "b", "c") and gold.labels == {"a": 1, "b": 0, "c": 0}
    assert gold.entities["c"] == []


# --- validation -----------------------------------------------------------------------


def problems_of(tmp_path: Path, files: dict[str, list[str]]) -> list[str]:
    folder = tmp_path / "preds"
    for name, lines in files.items():
        write_lines(folder / name, lines)
    return [str(p) for p in validate(folder, tiny_split())]


def test_written_submissions_validate_cleanly(written):
    for key in OUTPUT_KEYS:
        assert validate(written[key], tiny_split()) == [], key
    assert validate(written["7a"].parent, tiny_split()) == []


def test_validate_7b_error_classes(tmp_path):
    found = problems_of(
        tmp_path,
        {
            "task7b.tsv": [
                HEADER_7B,
                "100\t9\t16\tPROFESION",  # 2 column count
                "100\t9\tx\tPROFESION\tmédicos",  # 3 offsets
                "100\t30\t60\tPROFESION\tenfermeras",  # 4 outside the text
                "100\t10\t17\tPROFESION\tmédicos",  # 5 extraction mismatch
                "100\t9\t16\tSITUACION LABORAL\tmédicos",  # 6 unknown type
                "100\t9\t16\tACTIVIDAD\tmédicos",  # 7 not evaluated: warning
                "999\t0\t1\tPROFESION\tx",  # 8 unknown tweet
                "100\t19\t29\tPROFESION\tenfermeras",  # 9 fine
                "100\t19\t29\tPROFESION\tenfermeras",  # 10 duplicate: counted again, an error
                "300\t-\t-\t-\t-",  # 11 fine
            ]
        },
    )
    where = str(tmp_path / "preds" / "task7b.tsv")
    assert found == [
        f"{where}:2: error: expected 5 tab-separated fields, got 4",
        f"{where}:3: error: offsets must be non-negative integers, got '9' 'x'",
        f"{where}:4: error: span 30-60 is empty or outside the text (length 38)",
        f"{where}:5: error: extraction 'médicos' differs from the text at 10-17 ('édicos ');"
        " it occurs at 9-16 (offsets count Unicode code points, end exclusive)",
        f"{where}:6: error: unknown type 'SITUACION LABORAL' (did you mean SITUACION_LABORAL?);"
        " the official scorer silently drops the row",
        f"{where}:7: warning: type ACTIVIDAD is not evaluated; the official scorer ignores the row",
        f"{where}:8: error: tweet '999' is not in split 'valid'",
        f"{where}:10: error: duplicate of line 9; the official scorer counts every copy, so "
        "the score misleads",
    ]


def test_validate_7a_error_classes(tmp_path):
    found = problems_of(
        tmp_path,
        {
            "task7a.tsv": [
                "Tweet_ID\tLabel",
                "100\t1",
                "100\t0",
                "200\tsi",
                "999\t1",
                "200",
            ]
        },
    )
    where = str(tmp_path / "preds" / "task7a.tsv")
    assert found == [
        f"{where}:1: warning: header should be exactly 'tweet_id\\tlabel', got 'Tweet_ID\\tLabel'",
        f"{where}:3: error: tweet 100 listed again (first at line 2)",
        f"{where}:4: error: label must be 0 or 1, got 'si'",
        f"{where}:5: error: tweet '999' is not in split 'valid'",
        f"{where}:6: error: expected 2 tab-separated fields, got 1",
        f"{where}: error: 1 tweet(s) of split 'valid' missing (e.g. 300); every tweet must "
        "be listed exactly once",
    ]


def test_validate_brat_error_classes(tmp_path):
    folder = tmp_path / "brat"
    folder.mkdir()
    (folder / "100.ann").write_text(
        "T1\tPROFESION 9 16\tmédicos\nT2\tPROFESION 1 2;4 5\tx y\nT3\tPROFESSION 19 29\t"
        "enfermeras\nT4\tPROFESION 19 29\tenfermera\n",
        encoding="utf-8",
    )
    (folder / "999.ann").write_text("", encoding="utf-8")
    found = [str(p) for p in validate(folder, tiny_split())]
    ann = str(folder / "100.ann")
    assert found == [
        f"{ann}:2: error: discontinuous span; a TSV cannot express it",
        f"{ann}:3: error: unknown type 'PROFESSION'; the official scorer silently drops the row",
        f"{ann}:4: error: extraction 'enfermera' differs from the text at 19-29 ('enfermeras')"
        "; it occurs at 19-28 (offsets count Unicode code points, end exclusive)",
        f"{folder / '999.ann'}: error: tweet '999' (from the file name) is not in split 'valid'",
    ]


def test_validate_layout_problems(tmp_path):
    two = make_zip(
        tmp_path / "two.zip",
        {
            "task7a.tsv": f"{HEADER_7A}\n100\t1\n200\t1\n300\t0\n",
            "sub/task7b.tsv": f"{HEADER_7B}\n300\t-\t-\t-\t-\n",
            "other.tsv": f"{HEADER_7B}\n200\t-\t-\t-\t-\n",
        },
    )
    found = [str(p) for p in validate(two, tiny_split())]
    assert (
        f"{two}: error: 2 different task 7b files: {two}:other.tsv, {two}:sub/task7b.tsv; "
        "keep exactly one" in found
    )
    assert (
        f"{two}:sub/task7b.tsv: warning: not at the root of its zip, where CodaLab "
        "expects it" in found
    )
    assert any("holds both 7a and 7b files" in p for p in found)


def test_validate_reports_unusable_files_instead_of_raising(tmp_path):
    (tmp_path / "task7b.tsv").write_bytes(b"")
    found = [str(p) for p in validate(tmp_path, tiny_split())]
    assert found == [f"{tmp_path / 'task7b.tsv'}: error: empty file"]


def test_validate_empty_folder(tmp_path):
    found = validate(tmp_path, tiny_split())
    assert [p.severity for p in found] == ["error"]
    assert "no submission found" in found[0].message


def test_span_objects_round_trip_with_astral_emoji(tmp_path):
    text = "🏃🏽‍♀️👩🏾‍⚕️ enfermera 🏥\tcon tab"
    begin = text.index("enfermera")
    prediction = Prediction("1", 1, (Span(begin, begin + 9, P), Span(begin, len(text), S)))
    out = write_submission(tmp_path, [prediction], {"1": text})
    row = out["7b"].read_text(encoding="utf-8").split("\n")[1]
    assert row == f"1\t{begin}\t{begin + 9}\tPROFESION\tenfermera"
    output = read_system_output(out["brat_zip"], ["1"])
    assert output.entities == {"1": [Entity(begin, begin + 9, P), Entity(begin, len(text), S)]}


# --- spans outside the tweet, gold of every form ---------------------------------------


def test_spans_outside_the_tweet_are_counted_and_noted_once_per_file(tmp_path):
    rows = [HEADER_7B, "100\t9\t16\tPROFESION\tmédicos", "100\t30\t90\tPROFESION\tx"]
    write_lines(tmp_path / "tsv" / "task7b.tsv", [*rows, "200\t5\t5\tPROFESION\t"])
    write_lines(tmp_path / "brat" / "100.ann", ["T1\tPROFESION 30 90\tx", "T2\tPROFESION 9 9\t"])
    write_lines(tmp_path / "brat" / "200.ann", ["T1\tPROFESION 0 11\tSin trabajo"])
    for kind, where, count, line in (
        ("tsv", tmp_path / "tsv" / "task7b.tsv", 2, 3),
        ("brat", tmp_path / "brat" / "100.ann", 2, 1),
    ):
        plain = read_system_output(tmp_path / kind, IDS)
        noted = read_system_output(tmp_path / kind, IDS, TINY_TEXTS)
        assert noted.entities == plain.entities  # counted as the official scorer did
        extra = [str(n) for n in noted.notes if n not in plain.notes]
        assert extra == [
            f"{where}: {count} row(s) with a span empty or outside the tweet's text, first at "
            f"line {line}; counted as written, as the official scorer did "
            "('harness validate' lists each)"
        ], kind


def test_load_reference_of_a_corpus_split_with_and_without_gold():
    valid = load_reference(SAMPLE_CORPUS, "valid")
    assert valid.split is not None and valid.gold is not None
    assert valid.texts == {t.id: t.text for t in valid.split.tweets}
    assert valid.gold.texts == valid.texts and skipped_checks(valid) is None
    test = load_reference(SAMPLE_CORPUS, "test")  # texts only: validates, does not score
    assert test.gold is None and test.texts and test.name == "split 'test'"
    with pytest.raises(HarnessError, match="split 'test' has no gold annotations"):
        load_gold(SAMPLE_CORPUS, "test")


def test_validate_against_gold_tsvs_checks_what_needs_no_text(tmp_path):
    write_lines(tmp_path / "gold" / "7a.tsv", [HEADER_7A, "100\t1", "200\t1", "300\t0"])
    reference = load_reference(tmp_path / "gold")
    assert reference.texts is None and reference.tweet_ids == IDS
    assert skipped_checks(reference) == TEXT_CHECKS
    write_lines(
        tmp_path / "p" / "task7b.tsv",
        [
            HEADER_7B,
            "100\t9\t99\tPROFESION\tnot the text",  # 2 would be two errors with texts
            "100\t9\t9\tPROFESION\t",  # 3 empty
            "100\tx\t9\tPROFESION\tx",  # 4 not an integer
            "400\t0\t1\tPROFESION\tx",  # 5 unknown tweet
            "200\t0\t3\tSITUACION LABORAL\tSin",  # 6 misspelt type
        ],
    )
    write_lines(tmp_path / "p" / "task7a.tsv", [HEADER_7A, "100\t1", "200\t1"])
    found = [str(p) for p in validate(tmp_path / "p", reference)]
    where_a, where_b = tmp_path / "p" / "task7a.tsv", tmp_path / "p" / "task7b.tsv"
    assert found == [
        f"{where_a}: error: 1 tweet(s) of the gold TSVs in {tmp_path / 'gold'} missing "
        "(e.g. 300); every tweet must be listed exactly once",
        f"{where_b}:3: error: span 9-9 is empty",
        f"{where_b}:4: error: offsets must be non-negative integers, got 'x' '9'",
        f"{where_b}:5: error: tweet '400' is not in the gold TSVs in {tmp_path / 'gold'}",
        f"{where_b}:6: error: unknown type 'SITUACION LABORAL' (did you mean "
        "SITUACION_LABORAL?); the official scorer silently drops the row",
    ]
