"""Outputs no mistake can destroy: what ``--out``/``--force`` may replace, two commands
writing one folder, a kill at any moment of a replace, and permissions that follow the
umask. Each hostile case asserts exit code 2, one line without a traceback, and that
nothing outside the output folder changed."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.datasets import SAMPLE_CORPUS
from core.fileio import PARTIAL_TAG, atomic_directory, folder_lock, leftovers
from core.output_folders import MARKER
from harness.cli import main

ROOT = Path(__file__).resolve().parents[1]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with a digest of its bytes."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def refused(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness: error: "), result.output
    assert message in lines[0], lines[0]


def run_args(out: Path, *extra: str) -> list[str]:
    return ["run", "--system", "lookup", "--out", str(out), "--no-progress", *extra]


@pytest.fixture
def corpus_copy(tmp_path) -> Path:
    folder = tmp_path / "data" / "corpus"
    shutil.copytree(SAMPLE_CORPUS, folder)
    return folder


def test_force_never_replaces_the_current_folder_or_its_parents(tmp_path, monkeypatch):
    work = tmp_path / "project"
    (work / "notes").mkdir(parents=True)
    (work / "notes" / "thesis.txt").write_text("years of work", encoding="utf-8")
    monkeypatch.chdir(work / "notes")
    before = snapshot(tmp_path)
    refused(run_args(Path("."), "--force"), "is the current folder or holds it")
    refused(run_args(Path(".."), "--force"), "is the current folder or holds it")
    assert snapshot(tmp_path) == before


def test_force_never_replaces_home_or_an_input(tmp_path, monkeypatch, corpus_copy):
    home = tmp_path / "home"
    (home / "mail").mkdir(parents=True)
    (home / "mail" / "inbox").write_text("x", encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    before = snapshot(tmp_path)
    refused(run_args(home, "--force"), "is the home folder or holds it")
    data = ["--data", str(corpus_copy)]
    refused(run_args(corpus_copy, "--force", *data), "which this command reads")
    refused(run_args(corpus_copy.parent, "--force", *data), "which this command reads")
    run = tmp_path / "run"
    assert CliRunner().invoke(main, run_args(run)).exit_code == 0
    vectors = run / "vectors.txt"  # a run folder holding a file an option names
    vectors.write_text("1 2\nmédico 0.1 0.2\n", encoding="utf-8")
    before = snapshot(tmp_path)
    rnn = ["run", "--system", "rnn", "-o", f"vectors={vectors}", "--out", str(run), "--force"]
    refused(rnn, "which this command reads")
    assert snapshot(tmp_path) == before


def test_force_replaces_only_what_a_harness_command_made(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "results.csv").write_text("precious", encoding="utf-8")
    refused(run_args(mine), "exists and is not empty (use --force")
    refused(run_args(mine, "--force"), f"was not made by a harness command (no {MARKER}")
    assert (mine / "results.csv").read_text(encoding="utf-8") == "precious"

    run = tmp_path / "run"
    assert CliRunner().invoke(main, run_args(run)).exit_code == 0
    assert (run / MARKER).is_file()
    (run / "stale.txt").write_text("from before", encoding="utf-8")
    assert CliRunner().invoke(main, run_args(run, "--force")).exit_code == 0
    assert not (run / "stale.txt").exists() and (run / "metrics.json").is_file()
    assert not leftovers(run)


def test_out_naming_a_file_is_one_line(tmp_path):
    file = tmp_path / "report.txt"
    file.write_text("keep", encoding="utf-8")
    refused(run_args(file), "exists and is not a folder")
    refused(run_args(file / "run"), "is a file, not a folder")
    assert file.read_text(encoding="utf-8") == "keep"


def test_predict_keeps_existing_files_without_force(tmp_path):
    run = tmp_path / "run"
    assert CliRunner().invoke(main, run_args(run)).exit_code == 0
    mine = tmp_path / "preds"
    mine.mkdir()
    (mine / "task7b.tsv").write_text("my hand-made submission", encoding="utf-8")
    predict = ["predict", str(run / "model"), "--split", "valid", "--no-progress"]
    refused([*predict, "--out", str(mine)], "exists and is not empty (use --force")
    refused([*predict, "--out", str(mine), "--force"], "was not made by a harness command")
    assert (mine / "task7b.tsv").read_text(encoding="utf-8") == "my hand-made submission"
    made = tmp_path / "made"
    assert CliRunner().invoke(main, [*predict, "--out", str(made)]).exit_code == 0
    first = snapshot(made)
    refused([*predict, "--out", str(made)], "use --force")
    assert CliRunner().invoke(main, [*predict, "--out", str(made), "--force"]).exit_code == 0
    assert snapshot(made) == first  # the same model writes the same files


def test_a_second_command_on_the_same_folder_refuses(tmp_path):
    out = tmp_path / "run"
    with folder_lock(out):  # another harness run is writing it
        refused(run_args(out), "another harness command is writing this folder now")
    assert not out.exists()
    assert CliRunner().invoke(main, run_args(out)).exit_code == 0  # the lock died with it


KILLER = textwrap.dedent(
    """
    import os, shutil, signal, sys
    from pathlib import Path
    from core import fileio

    target, moment = Path(sys.argv[1]), sys.argv[2]

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    def die_midway(path, *args, **kwargs):  # killed with the deletion half done
        sorted(p for p in Path(path).rglob("*") if p.is_file())[0].unlink()
        die()

    if moment == "while-deleting":
        fileio.shutil.rmtree = die_midway
    with fileio.atomic_directory(target) as work:
        (work / "result.txt").write_text("new", encoding="utf-8")
        if moment == "while-writing":
            die()
    """
)


@pytest.mark.parametrize("moment", ["while-writing", "while-deleting"])
def test_a_kill_at_any_moment_leaves_the_old_folder_or_the_new_one_whole(tmp_path, moment):
    target = tmp_path / "run"
    target.mkdir()
    (target / "result.txt").write_text("old", encoding="utf-8")
    (target / "more.txt").write_text("old too", encoding="utf-8")
    killed = subprocess.run(
        [sys.executable, "-c", KILLER, str(target), moment], cwd=ROOT, check=False
    )
    assert killed.returncode == -9
    found = {p.name: p.read_text(encoding="utf-8") for p in target.iterdir()}
    assert found in ({"result.txt": "old", "more.txt": "old too"}, {"result.txt": "new"})
    left = leftovers(target)
    assert left and all(PARTIAL_TAG in p.name or "replaced" in p.name for p in left)
    with atomic_directory(target) as work:  # the next command into the folder cleans up
        (work / "result.txt").write_text("next", encoding="utf-8")
    assert not leftovers(target) and (target / "result.txt").read_text() == "next"


def test_outputs_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        assert CliRunner().invoke(main, run_args(tmp_path / "run")).exit_code == 0
    finally:
        os.umask(old)
    run = tmp_path / "run"
    assert stat.S_IMODE(run.stat().st_mode) == 0o755
    assert stat.S_IMODE((run / "metrics.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((run / "predictions" / "valid" / "task7b.tsv").stat().st_mode) == 0o644


def test_out_naming_the_current_folder_or_a_link_is_one_line(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.chdir(empty)
    refused(run_args(Path(".")), "is the current folder or holds it")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link").symlink_to(empty)
    refused(run_args(tmp_path / "link"), "is a symbolic link")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "link"]
    assert not list(empty.iterdir())


def test_a_folder_that_appears_meanwhile_is_not_replaced_and_the_output_is_kept(
    tmp_path, monkeypatch
):
    """Two commands on one --out (the second checked before the first had finished), or
    a user making the folder during a run: under the lock the rule is checked again."""
    from systems.lookup import LookupSystem

    out = tmp_path / "run"
    real_fit = LookupSystem.fit

    def fit_while_someone_writes(self, train, valid=None):
        out.mkdir()
        (out / "thesis.txt").write_text("years of work", encoding="utf-8")
        return real_fit(self, train, valid)

    monkeypatch.setattr(LookupSystem, "fit", fit_while_someone_writes)
    refused(run_args(out), "exists and is not empty (use --force")
    assert sorted(p.name for p in out.iterdir()) == ["thesis.txt"]
    [kept] = tmp_path.glob("run.harness-kept-*")
    assert (kept / "metrics.json").is_file() and (kept / MARKER).is_file()
