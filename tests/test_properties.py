"""Property-based tests (Hypothesis): arbitrary bytes and rows fed to the TSV, brat and
zip readers and to the scorer. A reader either reads or stops with one
:class:`HarnessError`; it never raises anything else, whatever the input. The scorer's
figures stay inside their bounds, and gold scored against itself is perfect.

The example counts are bounded so the suite stays fast; ``--hypothesis-seed`` replays a
failure.
"""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.corpus import load_corpus
from core.errors import HarnessError
from eval.records import Entity, GoldStandard, SystemOutput
from eval.scoring import score
from eval.tsv import parse_7a, parse_7b
from submissions import read_system_output
from submissions.brat import read_ann

IDS = ("1", "2", "3")
TYPES = ("PROFESION", "SITUACION_LABORAL")
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FILES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

#: text that looks enough like a TSV to reach past the first checks
cells = st.one_of(
    st.sampled_from([*IDS, "tweet_id", "0", "1", "-3", "99", "x", "", *TYPES, "PROFESION\0"]),
    st.text(max_size=6),
)
rows = st.lists(cells, min_size=0, max_size=7).map("\t".join)
tsv_texts = st.one_of(
    st.lists(rows, max_size=12).map("\n".join),
    st.text(max_size=200),
)


def only_harness_errors(call) -> None:
    try:
        call()
    except HarnessError as err:
        assert "\n" not in str(err)


@FAST
@given(tsv_texts)
def test_the_7b_reader_reads_any_text(text):
    table, notes = parse_7b(text, "p.tsv", IDS, {i: "el médico" for i in IDS})
    assert set(table) == set(IDS)
    assert all(isinstance(e, Entity) for entities in table.values() for e in entities)
    assert all(n.line is None or n.line >= 1 for n in notes)


@FAST
@given(tsv_texts)
def test_the_7a_reader_reads_any_text(text):
    labels, _ = parse_7a(text, "p.tsv", IDS)
    assert set(labels) <= set(IDS) and set(labels.values()) <= {0, 1}


@FAST
@given(st.lists(st.one_of(st.text(max_size=30), rows.map(lambda r: "T1\t" + r)), max_size=8))
def test_the_brat_reader_reads_any_text(lines):
    parsed, _notes = read_ann("\n".join(lines), "x.ann")
    assert all(row.line >= 1 for row in parsed)


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


names = st.sampled_from(
    ["task7b.tsv", "task7a.tsv", "a/1.ann", "../up.tsv", "p.zip", "x.txt", "1.ann"]
)
payloads = st.one_of(
    st.binary(max_size=300),
    tsv_texts.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.builds(lambda t: ("tweet_id\tbegin\tend\ttype\textraction\n" + t).encode(), tsv_texts),
)
members = st.dictionaries(names, payloads, max_size=4)


@FILES
@given(members, st.booleans(), st.integers(min_value=0, max_value=400))
def test_the_submission_readers_take_any_folder_or_zip(found, as_zip, cut):
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        if as_zip:
            data = zipped(found)
            target = root / "preds.zip"
            target.write_bytes(data[: cut or len(data)])  # sometimes cut short
        else:
            target = root / "preds"
            for name, data in found.items():
                path = target / name.replace("../", "")
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            target.mkdir(exist_ok=True)
        only_harness_errors(lambda: read_system_output(target, IDS))


@FILES
@given(st.binary(max_size=400), st.integers(min_value=0, max_value=400))
def test_the_corpus_reader_takes_any_bytes_named_zip(data, cut):
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "corpus.zip"
        path.write_bytes(data[:cut] if cut else data)
        only_harness_errors(lambda: load_corpus(path))
        txt = "profner/txt-files/train/1.txt"
        path.write_bytes(zipped({txt: data, "profner/subtask-2/tsv/train.tsv": data[:cut]}))
        only_harness_errors(lambda: load_corpus(path))


entities = st.builds(Entity, st.integers(-2, 12), st.integers(-2, 12), st.sampled_from(TYPES))
#: no entity twice in a tweet: duplicates count twice by the official rules (see
#: docs/scoring.md), which the counting identities below do not hold for
tables = st.fixed_dictionaries({i: st.lists(entities, max_size=4, unique=True) for i in IDS})


@FAST
@given(tables, tables)
def test_the_scorer_stays_in_bounds_and_gold_against_itself_is_perfect(gold, predicted):
    reference = GoldStandard("gold", IDS, entities=gold)
    report = score(reference, SystemOutput("pred", entities=predicted))
    assert report.task7b is not None
    strict = report.task7b.strict
    assert 0.0 <= strict.precision <= 1.0 and 0.0 <= strict.recall <= 1.0
    assert 0.0 <= strict.f1 <= 1.0
    assert strict.tp + strict.fp == sum(len(v) for v in predicted.values())
    assert strict.tp + strict.fn == sum(len(v) for v in gold.values())
    assert 0.0 <= report.task7b.relaxed_typed.f1 <= 1.0
    itself = score(reference, SystemOutput("gold", entities=gold)).task7b
    if any(gold.values()):  # 1 less the official formula's 1e-6 terms
        assert itself.strict.fp == itself.strict.fn == 0
        assert itself.strict.f1 == pytest.approx(1.0, abs=1e-5)
