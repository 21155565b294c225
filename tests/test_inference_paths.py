"""Inference paths declared once per system: the check of a requested path, what this
machine can run, the ``auto`` rule, and the listings that read the declarations."""

from __future__ import annotations

import logging

import pytest
from click.testing import CliRunner

from core import inference_paths
from core.errors import HarnessError
from core.inference_paths import BASELINE, InferencePath, choose, paths, prefer
from harness import registry
from harness.benchmarking import ALL_PATHS, AUTO_PATH, paths_to_time, requested_paths
from harness.cli import main

DECLARED = paths(torch="fp32 int8 bf16", onnxruntime="fp32 int8", openvino="fp32 bf16")
PREFERRED = prefer(
    ("openvino", "bf16", "best"), ("onnxruntime", "int8", "next"), ("torch", "int8", "last")
)


@pytest.fixture
def machine(monkeypatch):
    """A machine whose bf16 and installed engines the test sets."""
    state = {"bf16": True, "installed": {"torch", "onnxruntime", "openvino"}}
    monkeypatch.setattr(inference_paths, "cpu_supports_bf16", lambda: state["bf16"])
    monkeypatch.setattr(
        inference_paths,
        "missing_extra",
        lambda engine: None if engine in state["installed"] else f"engine {engine} needs x",
    )
    return state


def test_auto_takes_the_first_preference_this_machine_runs(machine):
    assert choose("s", DECLARED, PREFERRED, "auto") == (InferencePath("openvino", "bf16"), "best")
    machine["bf16"] = False
    path, why = choose("s", DECLARED, PREFERRED, "auto")
    assert path == InferencePath("onnxruntime", "int8")
    assert why == "next (not openvino bf16: no native bf16)"
    machine["installed"] = {"torch"}
    path, why = choose("s", DECLARED, PREFERRED, "auto")
    assert path == InferencePath("torch", "int8")
    assert "onnxruntime int8: onnxruntime not installed" in why
    assert choose("s", DECLARED, (), "auto") == (BASELINE, "no faster path runs here")


def test_a_requested_path_is_checked_against_the_declaration_and_the_machine(machine):
    assert choose("s", DECLARED, PREFERRED, "int8", "onnxruntime")[0] == InferencePath(
        "onnxruntime", "int8"
    )
    with pytest.raises(HarnessError, match=r"^s: no openvino int8 inference path \(it has: "):
        choose("s", DECLARED, PREFERRED, "int8", "openvino")
    machine["bf16"] = False
    with pytest.raises(HarnessError, match=r"^s: bf16: this CPU has no native bfloat16"):
        choose("s", DECLARED, PREFERRED, "bf16")
    machine["installed"] = {"torch"}
    with pytest.raises(HarnessError, match=r"^s: engine onnxruntime needs x"):
        choose("s", DECLARED, PREFERRED, "fp32", "onnxruntime")
    with pytest.raises(HarnessError, match="unknown precision 'int4'"):
        choose("s", DECLARED, PREFERRED, "int4")
    with pytest.raises(HarnessError, match="unknown engine 'tvm'"):
        choose("s", DECLARED, PREFERRED, "fp32", "tvm")
    with pytest.raises(HarnessError, match="precision auto picks the engine too"):
        choose("s", DECLARED, PREFERRED, "auto", "openvino")


def test_declarations_refuse_unknown_names():
    with pytest.raises(ValueError, match="unknown engine"):
        paths(tvm="fp32")
    with pytest.raises(ValueError, match="unknown precision"):
        paths(torch="fp8")


@pytest.mark.parametrize("name", sorted(registry.BUILTIN_SYSTEMS))
def test_every_system_prefers_only_paths_it_declares(name):
    system = registry.get(name)
    assert BASELINE in system.inference_paths
    for preference in system.auto_preferences:
        assert preference.path in system.inference_paths, (name, preference.path)


def test_bench_times_the_declared_paths_and_says_which_it_skips(machine, caplog):
    rnn = registry.get("rnn")
    requested = requested_paths(("torch", "openvino"), ("fp32", "int8"))
    with caplog.at_level(logging.WARNING, logger="harness"):
        chosen = paths_to_time(rnn, requested, "run")
    assert chosen == [BASELINE, InferencePath("torch", "int8")]
    assert "run: openvino fp32 skipped (not a path of rnn)" in caplog.text
    machine["installed"] = {"torch"}
    every = paths_to_time(rnn, requested_paths(("torch",), (ALL_PATHS,)), "run")
    assert every == [BASELINE, *paths(torch="int8 int8-full bf16"), AUTO_PATH]


def test_predict_help_lists_each_systems_paths_from_its_declaration():
    shown = CliRunner().invoke(main, ["predict", "--help"], terminal_width=200).output
    rnn_line = next(line for line in shown.splitlines() if line.strip().startswith("rnn "))
    assert rnn_line.split(None, 1)[1] == (
        "torch fp32/int8/int8-full/bf16; onnxruntime fp32/int8; auto: int8"
    )


def test_a_preference_can_hold_on_some_cpus_only(machine, monkeypatch):
    preferred = prefer(
        ("openvino", "bf16", "best with amx", "amx_bf16 amx_tile"), ("openvino", "int8", "else")
    )
    monkeypatch.setattr(inference_paths, "cpu_flags", lambda: {"avx512_bf16", "amx_tile"})
    assert choose("s", DECLARED + paths(openvino="int8"), preferred, "auto")[0] == InferencePath(
        "openvino", "bf16"
    )
    monkeypatch.setattr(inference_paths, "cpu_flags", lambda: {"avx512_bf16"})
    path, why = choose("s", DECLARED + paths(openvino="int8"), preferred, "auto")
    assert path == InferencePath("openvino", "int8")
    assert why == "else (not openvino bf16: preferred with amx_bf16 or amx_tile only)"
