"""The corpus reader: layouts, exact offsets, type filtering and clear errors."""

from __future__ import annotations

import re
import zipfile

import pytest

from core.corpus import load_corpus
from core.datasets import SAMPLE_CORPUS
from core.errors import HarnessError
from core.fileio import Bundle
from core.tweets import Span
from tests.corpus_factory import PROFNER_ZIP, write_corpus, zip_folder

needs_profner = pytest.mark.skipif(
    not PROFNER_ZIP.exists(), reason=f"real ProfNER corpus not found at {PROFNER_ZIP}"
)


def test_sample_corpus_has_gold_splits_and_a_text_only_test_split():
    corpus = load_corpus(SAMPLE_CORPUS)
    assert list(corpus.splits) == ["train", "valid", "test"]
    assert corpus.split("train").has_gold and corpus.split("valid").has_gold
    test = corpus.split("test")
    assert not test.has_gold
    assert all(t.label is None and t.spans is None for t in test.tweets)
    for tweet in corpus.split("train").tweets:
        for span in tweet.spans:
            assert tweet.mention(span).strip() == tweet.mention(span)


def test_zip_and_folder_read_identically(tmp_path):
    archive = zip_folder(SAMPLE_CORPUS, tmp_path / "sample.zip")
    from_zip, from_folder = load_corpus(archive), load_corpus(SAMPLE_CORPUS)
    for name in from_folder.splits:
        assert from_zip.split(name).tweets == from_folder.split(name).tweets


def test_offsets_survive_crlf_bom_and_astral_emoji(tmp_path):
    text = "\ufeff🏃🏽Médicos\r\ny 👩‍⚕️enfermeras"
    begin = text.index("Médicos")
    begin2 = text.index("enfermeras")
    spans = [(begin, begin + 7, "PROFESION"), (begin2, begin2 + 10, "PROFESION")]
    write_corpus(tmp_path, {"train": {"1": (text, spans)}})
    tweet = load_corpus(tmp_path).split("train").tweets[0]
    assert tweet.text == text  # no newline translation, BOM kept as a character
    assert [tweet.mention(s) for s in tweet.spans] == ["Médicos", "enfermeras"]


def test_type_filter_keeps_evaluated_types_unless_all_types(tmp_path):
    text = "el médico trabaja en paro"
    spans = [(3, 9, "PROFESION"), (10, 17, "ACTIVIDAD"), (21, 25, "SITUACION_LABORAL")]
    write_corpus(tmp_path, {"train": {"1": (text, spans)}})
    default = load_corpus(tmp_path)
    assert {s.type for s in default.split("train").tweets[0].spans} == {
        "PROFESION",
        "SITUACION_LABORAL",
    }
    assert default.split("train").dropped_types == {"ACTIVIDAD": 1}
    everything = load_corpus(tmp_path, types=None)
    assert len(everything.split("train").tweets[0].spans) == 3
    assert "ACTIVIDAD" in everything.types


def test_brat_is_read_when_no_tsv(tmp_path):
    text = "la enfermera y el médico"
    spans = [(3, 12, "PROFESION"), (18, 24, "PROFESION")]
    write_corpus(tmp_path, {"train": {"1": (text, spans)}}, with_tsv=False, with_brat=True)
    tweet = load_corpus(tmp_path).split("train").tweets[0]
    assert tweet.spans == (Span(3, 12, "PROFESION"), Span(18, 24, "PROFESION"))


def test_duplicate_gold_rows_are_kept_for_official_counting(tmp_path):
    write_corpus(tmp_path, {"train": {"1": ("el médico", [(3, 9, "PROFESION")] * 2)}})
    assert len(load_corpus(tmp_path).split("train").tweets[0].spans) == 2


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("1\t3\t9\tPROFESION\tmedico", "extraction 'medico' differs"),
        ("1\t3\t99\tPROFESION\tmédico", "outside the text"),
        ("1\tx\t9\tPROFESION\tmédico", "offsets must be integers"),
        ("2\t3\t9\tPROFESION\tmédico", "tweet 2 has no text file"),
        ("1\t3\t9\tPROFESION", "expected 5 tab-separated fields"),
    ],
)
def test_bad_gold_rows_name_file_and_line(tmp_path, row, message):
    write_corpus(tmp_path, {"train": {"1": ("el médico", [(3, 9, "PROFESION")])}})
    tsv = tmp_path / "profner" / "subtask-2" / "tsv" / "train.tsv"
    tsv.write_text("tweet_id\tbegin\tend\ttype\textraction\n" + row + "\n", encoding="utf-8")
    with pytest.raises(HarnessError, match=message) as err:
        load_corpus(tmp_path)
    assert "train.tsv:2" in str(err.value)


def test_not_utf8_text_is_a_clear_error(tmp_path):
    write_corpus(
        tmp_path,
        {"train": {"1": ("el médico", [])}},
        text_bytes={"1": "el médico".encode("latin-1")},
    )
    with pytest.raises(HarnessError, match=re.escape("1.txt: not valid UTF-8")):
        load_corpus(tmp_path)


def test_missing_label_bad_label_and_bad_header(tmp_path):
    write_corpus(tmp_path, {"train": {"1": ("a", []), "2": ("b", [])}})
    labels = tmp_path / "profner" / "subtask-1" / "train.tsv"
    labels.write_text("tweet_id\tlabel\n1\t0\n", encoding="utf-8")
    with pytest.raises(HarnessError, match="no label for 1 tweet"):
        load_corpus(tmp_path)
    labels.write_text("tweet_id\tlabel\n1\t0\n2\tyes\n", encoding="utf-8")
    with pytest.raises(HarnessError, match=re.escape("train.tsv:3: label must be 0 or 1")):
        load_corpus(tmp_path)
    labels.write_text("id\tclass\n", encoding="utf-8")
    with pytest.raises(HarnessError, match=re.escape("train.tsv:1: expected header")):
        load_corpus(tmp_path)


def test_not_a_corpus_and_missing_path(tmp_path):
    (tmp_path / "x.txt").write_text("hola")
    with pytest.raises(HarnessError, match="not a ProfNER-style corpus"):
        load_corpus(tmp_path)
    with pytest.raises(HarnessError, match="no such file or folder"):
        load_corpus(tmp_path / "missing.zip")
    with pytest.raises(HarnessError, match="no split nope"):
        load_corpus(SAMPLE_CORPUS, splits=["nope"])
    with pytest.raises(HarnessError, match="no split 'test'"):
        load_corpus(SAMPLE_CORPUS, splits=["train"]).split("test")


@pytest.mark.parametrize(
    "content",
    [b"tweet_id\tlabel\n", b"", b"PK\x03\x04 cut short"],
    ids=["text", "empty", "truncated"],
)
def test_a_zip_named_file_that_is_not_a_zip(tmp_path, content):
    path = tmp_path / "profner.ZIP"
    path.write_bytes(content)
    with pytest.raises(HarnessError, match=f"^{re.escape(str(path))}: not a zip file$"):
        load_corpus(path)


def test_a_zip_under_another_name_is_still_read(tmp_path):
    folder = write_corpus(tmp_path / "c", {"valid": {"1": ("Soy médico", [(4, 10, "PROFESION")])}})
    renamed = zip_folder(folder, tmp_path / "profner.download")
    assert len(load_corpus(renamed).split("valid")) == 1


def test_a_damaged_zip_member_is_one_line(tmp_path):
    path = tmp_path / "c.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:
        archive.writestr("a.txt", b"hola mundo")
    data = path.read_bytes()
    path.write_bytes(data.replace(b"hola mundo", b"hola Mundo"))  # same size, bad CRC
    with (
        Bundle(path) as bundle,
        pytest.raises(
            HarnessError, match=re.escape(f"{path}:a.txt: damaged zip member (Bad CRC-32")
        ),
    ):
        bundle.read_bytes("a.txt")


@needs_profner
def test_real_profner_corpus_figures():
    corpus = load_corpus(PROFNER_ZIP)
    train, valid = corpus.split("train"), corpus.split("valid")
    assert (len(train), len(valid)) == (6000, 2000)
    assert sum(t.label for t in train.tweets) == 1393
    assert sum(t.label for t in valid.tweets) == 477
    types = [s.type for t in valid.tweets for s in t.spans]
    assert (types.count("PROFESION"), types.count("SITUACION_LABORAL")) == (566, 85)
    everything = load_corpus(PROFNER_ZIP, types=None)
    assert set(everything.types) == {"PROFESION", "SITUACION_LABORAL", "ACTIVIDAD", "FIGURATIVA"}
