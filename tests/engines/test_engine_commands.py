"""``harness predict`` and ``harness bench`` take each engine, on a tiny saved System 1."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from core.machine import engine_available
from harness.cli import main

ENGINES = [
    pytest.param(
        "onnxruntime",
        marks=pytest.mark.skipif(not engine_available("onnxruntime"), reason="no 'onnx' extra"),
    ),
    pytest.param(
        "openvino",
        marks=pytest.mark.skipif(not engine_available("openvino"), reason="no 'openvino' extra"),
    ),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_predict_and_bench_take_the_engine(bert_model, tmp_path, engine):
    runner = CliRunner()
    out = tmp_path / "preds"
    args = ["predict", str(bert_model), "--split", "valid", "--out", str(out)]
    result = runner.invoke(main, [*args, "--engine", engine, "--precision", "int8"])
    assert result.exit_code == 0, result.output
    assert (out / "task7b.tsv").is_file()

    args = ["bench", str(bert_model), "--rounds", "1", "--warmup", "0", "--precision", "fp32"]
    args += ["--precision", "int8", "--engine", "torch", "--engine", engine]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    paths = [line.split("|")[4].strip() for line in result.stdout.splitlines()[2:6]]
    assert paths == ["fp32", "int8", f"{engine} fp32", f"{engine} int8"]
