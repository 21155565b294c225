"""Acceptance: the nine officially scored LASIGE submissions score here exactly as on
CodaLab, every printed figure and every count; and the published reference predictions
score without trouble. Needs ``../shared/data`` (skipped without it)."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from click.testing import CliRunner

from core.tweets import Prediction, Span
from eval import official_lines, score, score_predictions
from harness.cli import main
from submissions import load_gold, read_system_output, validate
from tests.helpers import CONFORMANCE, REFERENCE_PREDICTIONS, SHARED_DATA

pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.skipif(
        not SHARED_DATA.is_dir(),
        reason=f"shared data not found at {SHARED_DATA} (the real ProfNER corpus "
        "and the official conformance suite live there)",
    ),
]
PROFNER_ZIP = SHARED_DATA / "profner.zip"
SUBMISSIONS = [2, 3, 4, 5, 6, 7, 8, 9, 10]
REFERENCE_VERSIONS = ["v0", "v2"]


@pytest.fixture(scope="module")
def valid():
    """The gold of the valid split and the split itself, read once for the module."""
    return load_gold(PROFNER_ZIP, "valid")


def official_log(folder):
    """(gold annotations, predicted annotations, relaxed counts, strict counts) or None."""
    path = folder / "official-log-7b.txt"
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8")
    loaded = [int(n) for n in re.findall(r"Loaded dataset \d+ tweets\. (\d+) annotations", text)]
    triples = [tuple(map(int, m)) for m in re.findall(r"TP:(\d+) FP:(\d+) FN:(\d+)", text)]
    assert len(loaded) == 2 and len(triples) == 2, f"unexpected log format in {path}"
    return loaded[0], loaded[1], triples[0], triples[1]


def test_the_suite_is_complete():
    assert sorted(int(p.name.rsplit("-", 1)[1]) for p in CONFORMANCE.iterdir()) == SUBMISSIONS


@pytest.mark.parametrize("number", SUBMISSIONS)
def test_official_scores_are_reproduced(valid, number):
    gold, _split = valid
    folder = CONFORMANCE / f"lasige-submission-{number}"
    # The folder holds task7a.tsv, task7b.tsv and the official .txt files: the TSVs are
    # found by header, the rest is ignored.
    report = score(gold, read_system_output(folder, gold.tweet_ids))
    official = []
    for task in ("7a", "7b"):
        official += (folder / f"official-scores-{task}.txt").read_text("utf-8").splitlines()
    assert official_lines(report) == official
    log = official_log(folder)
    if log is not None:
        gold_count, pred_count, relaxed, strict = log
        ner = report.task7b
        assert (ner.gold_entities, ner.predicted_entities) == (gold_count, pred_count)
        assert (ner.relaxed.tp, ner.relaxed.fp, ner.relaxed.fn) == relaxed
        assert (ner.strict.tp, ner.strict.fp, ner.strict.fn) == strict


def test_cli_json_reports_the_official_figures():
    folder = CONFORMANCE / "lasige-submission-9"
    result = CliRunner().invoke(main, ["score", str(folder), str(PROFNER_ZIP), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert f"{data['7a']['f1']:.12g}" == "0.907709011944"
    assert (data["7b"]["strict"]["tp"], data["7b"]["strict"]["fp"]) == (424, 109)
    assert "SITUACION LABORAL" in result.stderr


def _as_predictions(labels, entities):
    """Prediction objects holding exactly a file's rows (duplicates included)."""
    return [
        Prediction(
            tweet_id,
            labels.get(tweet_id, 0),
            tuple(Span(e.begin, e.end, e.type) for e in entities.get(tweet_id, [])),
        )
        for tweet_id in labels
    ]


@pytest.mark.parametrize("version", REFERENCE_VERSIONS)
def test_reference_predictions_score_cleanly(valid, tmp_path, version, record_property):
    gold, split = valid
    for task in ("7a", "7b"):
        shutil.copy(REFERENCE_PREDICTIONS / f"task{task}-{version}.tsv", tmp_path)
    output = read_system_output(tmp_path, gold.tweet_ids)
    report = score(gold, output)
    assert report.warnings == []
    assert validate(tmp_path, split) == []
    figures = {
        "7a_f1": report.task7a.f1,
        "7b_strict_f1": report.task7b.strict.f1,
        "7b_relaxed_f1": report.task7b.relaxed.f1,
        "7b_relaxed_typed_f1": report.task7b.relaxed_typed.f1,
    }
    for name, value in figures.items():
        assert 0.5 < value < 1.0, (name, value)
        record_property(f"{version}_{name}", value)
    print(version, " ".join(official_lines(report)))
    # The in-memory route gives the same numbers on real data.
    in_memory = score_predictions(_as_predictions(output.labels, output.entities), split)
    assert in_memory.as_dict() == report.as_dict()
