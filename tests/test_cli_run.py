"""The ``harness`` CLI: data, systems and run, end to end on the sample corpus."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
import zipfile

import pytest
from click.testing import CliRunner

from harness.cli import COMMANDS, SUMMARIES, main
from tests.corpus_factory import PROFNER_ZIP


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_help_documents_every_command():
    result = invoke("--help")
    assert result.exit_code == 0
    for name in ("data", "systems", "run", "score", "validate"):
        assert name in result.output
        assert invoke(name, "--help").exit_code == 0


def test_help_lists_every_command_without_importing_torch():
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from harness.cli import COMMANDS, main\n"
        "out = CliRunner().invoke(main, ['--help']).output\n"
        "assert all(name in out for name in COMMANDS), out\n"
        "assert 'torch' not in sys.modules and 'ray' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert set(SUMMARIES) == set(COMMANDS)


def test_a_command_whose_extra_is_missing_says_which_to_install(monkeypatch):
    real = importlib.import_module

    def without_ray(name, *args):
        if name == "harness.commands.tune":
            raise ModuleNotFoundError("No module named 'ray'", name="ray")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_ray)
    result = CliRunner().invoke(main, ["tune", "--system", "lookup"])
    assert result.exit_code == 2
    assert "needs the 'tune' extra" in result.output and "Traceback" not in result.output


def test_data_json_reports_alignment():
    result = invoke("data", "--json")
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output)
    train = stats["splits"]["train"]
    assert train["tweets"] == 42 and train["positives"] == 34
    assert train["alignment"]["round_trip_identical"] == train["alignment"]["entities"] == 38
    assert train["alignment"]["misaligned_default_spacy"] > 0
    assert train["dropped_types"] == {"FIGURATIVA": 1, "ACTIVIDAD": 1}
    assert stats["splits"]["test"]["has_gold"] is False
    everything = json.loads(invoke("data", "--json", "--all-types").output)
    assert sum(everything["splits"]["train"]["entities"].values()) == 40


def test_systems_lists_lookup_with_options():
    assert "lookup" in invoke("systems").output
    detail = invoke("systems", "lookup").output
    assert "min_precision" in detail and "7a: positive when" in detail


def test_run_lookup_on_sample_makes_a_complete_run_folder(tmp_path):
    out = tmp_path / "run"
    result = invoke(
        "run", "--system", "lookup", "--out", str(out), "--no-progress", "-o", "min_precision=0.1"
    )
    assert result.exit_code == 0, result.output
    assert "valid: 7a F1" in result.output
    for name in ("config.json", "metrics.json", "run.log", "model/system.json"):
        assert (out / name).is_file(), name
    for split in ("valid", "test"):
        for name in ("task7a.tsv", "task7b.tsv", "task7a.zip", "task7b.zip", "brat.zip"):
            assert (out / "predictions" / split / name).is_file()
    with zipfile.ZipFile(out / "predictions" / "valid" / "task7b.zip") as archive:
        assert archive.namelist() == ["task7b.tsv"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["scores"]) == {"valid"}  # test has no gold
    assert 0 < metrics["scores"]["valid"]["7b"]["strict"]["f1"] <= 1
    config = json.loads((out / "config.json").read_text())
    assert config["system_config"]["min_precision"] == 0.1
    # the same scores come out of `harness score` on the written files
    scored = invoke("score", str(out / "predictions" / "valid"), "core/sample_corpus", "--json")
    assert json.loads(scored.stdout)["7b"] == metrics["scores"]["valid"]["7b"]
    # --config repeats the run with the recorded options
    again = invoke(
        "run",
        "--config",
        str(out / "config.json"),
        "--out",
        str(tmp_path / "again"),
        "--no-progress",
    )
    assert again.exit_code == 0, again.output
    repeated = json.loads((tmp_path / "again" / "metrics.json").read_text())
    assert repeated["scores"] == metrics["scores"]


def test_run_refuses_to_overwrite_and_leaves_no_partial_folder(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    result = CliRunner().invoke(main, ["run", "--system", "lookup", "--out", str(out)])
    assert result.exit_code == 2
    assert "exists and is not empty" in result.output
    assert (out / "keep.txt").exists()
    bad = CliRunner().invoke(
        main, ["run", "--system", "lookup", "--out", str(tmp_path / "b"), "-o", "no_such_option=1"]
    )
    assert bad.exit_code == 2 and "unknown option(s) no_such_option" in bad.output
    assert not (tmp_path / "b").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["run"]  # no temporary folder left


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "--system", "nope"], "unknown system 'nope'"),
        (["run", "--system", "lookup", "--data", "/no/such.zip"], "no such corpus"),
        (["data", "/no/such/folder"], "no such corpus"),
        (["systems", "nope"], "unknown system 'nope'"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(args, message):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.skipif(not PROFNER_ZIP.exists(), reason=f"real ProfNER corpus not at {PROFNER_ZIP}")
def test_lookup_on_real_profner(tmp_path):
    out = tmp_path / "run"
    result = invoke(
        "run", "--system", "lookup", "--data", str(PROFNER_ZIP), "--out", str(out), "--no-progress"
    )
    assert result.exit_code == 0, result.output
    scores = json.loads((out / "metrics.json").read_text())["scores"]["valid"]
    # a dictionary baseline: clearly better than nothing, clearly worse than the winners
    assert 0.55 < scores["7b"]["strict"]["f1"] < 0.8
    assert 0.7 < scores["7a"]["f1"] < 0.9


def test_predict_with_a_saved_model_writes_and_scores(tmp_path):
    run_dir = tmp_path / "run"
    assert (
        invoke("run", "--system", "lookup", "--out", str(run_dir), "--no-progress").exit_code == 0
    )
    out = tmp_path / "preds"
    result = invoke(
        "predict", str(run_dir / "model"), "--split", "valid", "--out", str(out), "--no-progress"
    )
    assert result.exit_code == 0, result.output
    assert "valid: 7a F1" in result.output
    assert (out / "task7b.zip").is_file()
    assert (out / "task7b.tsv").read_bytes() == (
        run_dir / "predictions" / "valid" / "task7b.tsv"
    ).read_bytes()
    test = invoke(
        "predict", str(run_dir / "model"), "--out", str(tmp_path / "test"), "--no-progress"
    )
    assert test.exit_code == 0 and "7a F1" not in test.output  # no gold for test
    broken = CliRunner().invoke(main, ["predict", str(tmp_path), "--out", str(tmp_path / "x")])
    assert broken.exit_code == 2 and "not a saved model folder" in broken.output


def test_bench_renders_a_table_and_skips_paths_a_system_lacks(tmp_path):
    run_dir = tmp_path / "run"
    assert (
        invoke("run", "--system", "lookup", "--out", str(run_dir), "--no-progress").exit_code == 0
    )
    result = invoke(
        "bench",
        str(run_dir),
        "--rounds",
        "2",
        "--warmup",
        "0",
        "--json",
        str(tmp_path / "bench.json"),
    )
    assert result.exit_code == 0, result.output
    assert "| lookup |" in result.stdout and "| fp32 |" in result.stdout
    rows = json.loads((tmp_path / "bench.json").read_text())["rows"]
    assert [r["precision"] for r in rows] == ["fp32"]  # no int8 path for a dictionary
    assert rows[0]["latency"]["median"]["rounds"] == 2
    assert rows[0]["f1"]["7b_strict"] > 0
